# Runtime settings shared by every config (mmseg-0.x keys, plus the switches of this codebase).
log_config = dict(
    interval=50,  # iterations between log lines (text, JSON lines and TensorBoard when installed)
    hooks=[dict(type='TextLoggerHook', by_epoch=False),
           dict(type='TensorboardLoggerHook', by_epoch=False)])
# backend: 'gloo' is used instead when the run has no CUDA device. timeout: seconds a collective
# waits for the other processes; a lost process (killed, crashed, unreachable node) stops the
# others then.
dist_params = dict(backend='nccl', timeout=1800)
log_level = 'INFO'
load_from = None    # weights only (tools/train.py --load-from)
# weights, optimizer, scheduler, iteration and RNG (tools/train.py --resume-from)
resume_from = None
workflow = [('train', 1)]
cudnn_benchmark = True
# Every trainable parameter gets a gradient in both stages
# (tests/models/test_gradients_reach_every_parameter.py), so DDP need not search for unused ones
# on every step.
find_unused_parameters = False
# Mixed precision (tools/train.py --amp). Off as in the paper; the pixel decoder's deformable
# attention, the matcher and the losses always run in float32.
amp = dict(enabled=False, dtype='float16')  # 'float16' (with a grad scaler) or 'bfloat16'
# torch.compile of the model (tools/train.py and tools/test.py --compile): backbone, pixel decoder
# and transformer decoder (mmseg/apis/compile.py). The first iterations are slow (compilation);
# on CPU inductor needs a C++ compiler.
compile = False
# A loss that is NaN or Inf stops training ('raise') or skips that step and counts it ('skip').
nonfinite_loss = 'raise'
# --finetune-from: parameters whose name contains one of these stay trainable, the rest is frozen.
finetune_cfg = dict(trainable_patterns=['predictor'])
