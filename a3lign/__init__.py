"""A3lign-DFER: dynamic facial expression recognition with a frozen CLIP, as a Transformers model."""

from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification, AutoVideoProcessor

from .configuration_a3lign import A3lignConfig
from .modeling_a3lign import A3lignModel
from .processing_a3lign import A3lignVideoProcessor

# With the package installed, the Auto classes resolve without trust_remote_code.
AutoConfig.register("a3lign", A3lignConfig, exist_ok=True)
AutoModel.register(A3lignConfig, A3lignModel, exist_ok=True)
AutoModelForVideoClassification.register(A3lignConfig, A3lignModel, exist_ok=True)
AutoVideoProcessor.register(A3lignConfig, A3lignVideoProcessor, exist_ok=True)

__all__ = ["A3lignConfig", "A3lignModel", "A3lignVideoProcessor"]
