from .clip_predictor import ClipPredictor
from .encoder_decoder_clips import EncoderDecoder_clips

__all__ = ['ClipPredictor', 'EncoderDecoder_clips']
