from .encoder_decoder_clips import EncoderDecoder_clips

__all__ = ['EncoderDecoder_clips']
