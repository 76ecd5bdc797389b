# THE-Mask stage 2 (temporal aggregation decoder) on MiT-b1; the per-variant configs override the
# backbone, its channels (input_shape) and, for stage 1, the head and decoder types.
num_classes = 124
dec_layers = 10  # 1 prediction before the decoder + 9 decoder layers
CONVS_DIM = 256
MASK_DIM = 256
model = dict(
    type='EncoderDecoder_clips',
    # SegFormer ImageNet-1k weights (flat mit_bX.pth, see README "Pretrained weights");
    # None = random.
    pretrained='pretrained/mit_b1.pth',
    # with_cp (here, in pixel_decoder_cfg and in transformer_decoder_cfg): activation checkpointing
    # in training - recompute each block / layer in the backward pass instead of keeping its
    # activations (less memory, about one more forward; same gradients). Off by default.
    backbone=dict(type='mit_b1', style='pytorch', with_cp=False),
    decode_head=dict(
        type='THEMaskHead',
        in_index=[0, 1, 2, 3],
        in_features=['res2', 'res3', 'res4', 'res5'],
        input_shape=dict(
            res2=dict(channels=64, stride=4),
            res3=dict(channels=128, stride=8),
            res4=dict(channels=320, stride=16),
            res5=dict(channels=512, stride=32)),
        num_classes=num_classes,
        ignore_value=255,
        loss_weight=1.0,
        align_corners=False,
        pixel_decoder_cfg=dict(
            type='MSDeformAttnPixelDecoder',
            conv_dim=CONVS_DIM,
            mask_dim=MASK_DIM,
            norm='GN',
            transformer_dropout=0.0,
            transformer_nheads=8,
            transformer_dim_feedforward=1024,
            transformer_enc_layers=6,
            transformer_in_features=['res3', 'res4', 'res5'],
            common_stride=4,
            with_cp=False),
        transformer_decoder_cfg=dict(
            type='VideoMultiScaleMaskedTransformerDecoder',
            transformer_in_feature='multi_scale_pixel_decoder',
            CONVS_DIM=CONVS_DIM,
            MASK_DIM=MASK_DIM,
            num_classes=num_classes,
            hidden_dim=256,
            num_queries=100,
            nheads=8,
            dim_feedforward=2048,
            dec_layers=dec_layers - 1,
            pre_norm=False,
            mask_dim=MASK_DIM,
            enforce_input_project=False,
            with_cp=False,
            num_frames=1),  # frames per training clip; stage 2 sets 2 on the command line
        loss_cfg=dict(
            matcher_cfg=dict(
                class_weight=2.0, mask_weight=5.0, dice_weight=5.0,
                class_weight_unmatched=1.0, mask_weight_unmatched=0.5, dice_weight_unmatched=0.5),
            warmup_iters=30000,     # stage 1: one-to-one matching before, two-round after
            round_weight=[1.0, 0.5],
            aux_weight=0.25,        # stage 2 frame-query branch
            deep_supervision=True,
            dec_layers=dec_layers,
            no_object_weight=0.1,
            train_num_points=12544,
            oversample_ratio=3.0,
            importance_sample_ratio=0.75)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
