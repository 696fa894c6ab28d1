"""A3lign-DFER model configuration.

Remote code: imports only torch/transformers and siblings, so that a saved checkpoint folder works
without the `a3lign` package installed.
"""

from transformers import CLIPConfig, PreTrainedConfig

# The paper's MAT holds 7 classes (DFEW's and FERV39k's); a config built without labels heads that many, named
# as transformers names them (LABEL_0, ...). Dataset class lists live with their readers (`a3lign/data`).
DEFAULT_NUM_LABELS = 7

# Shapes of openai/clip-vit-large-patch14, the paper's headline backbone: the default CLIP.
VIT_L14_CLIP_CONFIG = {
    "projection_dim": 768,
    "text_config": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12},
    "vision_config": {
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_attention_heads": 16,
        "num_hidden_layers": 24,
        "image_size": 224,
        "patch_size": 14,
    },
}

# Encoders whose blocks Module Synchronization may copy into the joint synchronizer.
SYNC_SOURCES = ("video", "text")


# The custom pipeline every saved model folder names in its config (`A3lignModel.save_pretrained` copies its code):
# `pipeline("video-classification", model=folder, trust_remote_code=True)` builds it (one result per clip).
CUSTOM_PIPELINES = {
    "video-classification": {
        "impl": "pipeline_a3lign.A3lignVideoClassificationPipeline",
        "pt": ["AutoModelForVideoClassification"],
        "tf": [],
        "type": "video",
    }
}


class A3lignConfig(PreTrainedConfig):
    r"""
    Configuration of an [`A3lignModel`]: a frozen CLIP, the Multi-Dimensional Alignment Tokens (MAT),
    the text and video dynamic encoders and the Joint Dynamic Alignment Synchronizer (JAS), and the
    active stage of the Bidirectional Alignment Training Paradigm (BAP). Where the paper is silent the
    docstring says so and names our choice.

    Args:
        clip_config (`CLIPConfig` or `dict`, *optional*):
            The frozen CLIP's configuration. Defaults to ViT-L/14 shapes (`openai/clip-vit-large-patch14`,
            the paper's headline backbone); [`A3lignModel.from_clip_pretrained`] fills it from a checkpoint.
        clip_name_or_path (`str`, *optional*):
            Provenance only: the CLIP checkpoint the weights were copied from.
        id2label / label2id (`dict`, *optional*):
            The classes, at least 2. Defaults to 7 (the paper's MAT, DFEW's class count) named `LABEL_0`..`LABEL_6`;
            training takes them from the dataset (`a3lign.data`), a checkpoint carries them.
        num_frames (`int`, *optional*, defaults to 16):
            Frames per clip F (the field's convention; the paper is silent).
        image_size (`int`, *optional*, defaults to 112):
            Side of the frames fed to CLIP (the paper's crop). Must be a multiple of CLIP's patch size;
            CLIP's position embeddings are interpolated when it differs from CLIP's own size.
        mat_sentences (`int`, *optional*, defaults to 16):
            Sentences per class S (paper: 16).
        mat_tokens (`int`, *optional*, defaults to 64):
            Learnable tokens per sentence T (paper: 64). `T + 3` (SOS, ".", EOT) must fit CLIP's text positions.
        mat_init (`str`, *optional*, defaults to `"random"`):
            How the MAT starts (paper silent): `"random"` (normal, `mat_init_std`), or `"text"`: each class's S
            sentences from the word embeddings of S descriptions of its expression (CoOp and DFER-CLIP start prompts
            from words), so that the untrained model is CLIP's zero-shot classifier (`bap_stage=0`). Set by
            [`A3lignModel.from_clip_pretrained`] with `mat_descriptions`, which needs the checkpoint's tokenizer.
        mat_sentence_lengths (`list[list[int]]`, *optional*):
            Tokens each sentence uses, `C x S` values in `[1, mat_tokens]`; None: all `mat_tokens`. A text-initialised
            MAT's sentences end where their descriptions end (a token between a description and EOT would change
            its embedding), CoOp's convention; the slots past them are unused.
        mat_init_std (`float`, *optional*, defaults to 0.02):
            Std of the MAT's normal initialisation (paper silent; CoOp's choice).
        mat_period_token_id (`int`, *optional*, defaults to 269):
            Id of "." closing each sentence (269 in CLIP's fixed BPE vocabulary).
        mat_truncate_after_eot (`bool`, *optional*, defaults to `True`):
            Feed `T + 3` tokens instead of padding to CLIP's context length. The causal mask makes
            the EOT output identical either way; the cut only saves work.
        dynamic_hidden_size (`int`, *optional*):
            Width of the three dynamic encoders. Defaults to CLIP's `projection_dim` (paper silent); a
            different width adds linear maps in and out. Shared by the three encoders because Module
            Synchronization copies blocks between them; likewise the settings below.
        dynamic_num_heads (`int`, *optional*, defaults to 8):
            Attention heads of the dynamic encoders (paper silent).
        dynamic_mlp_ratio (`float`, *optional*, defaults to 4.0):
            MLP width over block width (paper silent; the transformer standard).
        dynamic_dropout (`float`, *optional*, defaults to 0.1):
            Dropout inside the dynamic encoders' blocks (paper silent).
        dynamic_pooling (`str`, *optional*, defaults to `"cls"`):
            `"cls"`: a learnable class token is prepended and its output is the sequence's vector;
            `"mean"`: the outputs are averaged (paper silent).
        dynamic_position_embedding (`str`, *optional*, defaults to `"learned"`):
            `"learned"` positional embeddings, or `"none"` (order-blind, for ablations). The paper's
            Table 5 shows the model uses frame order, so it needs them.
        dynamic_position_init_std (`float`, *optional*, defaults to 1.0):
            Std of the positional embeddings' (and class token's) initialisation. They must start on the
            scale of the embeddings they are added to, or order is learnt far more slowly (measured).
        frame_standardization (`bool`, *optional*, defaults to `True`):
            Standardise frame embeddings per dimension with fixed statistics of the training set's frames
            (`A3lignModel.set_frame_statistics`, computed once before training from the frozen tower; saved
            with the weights; identity until set). Paper silent. CLIP embeddings of face crops share a
            large common component (cosine 0.985 between clips on a random CLIP) that a cosine head and
            per-vector norms cannot remove; with it, BAP learns where it otherwise stays at chance
            (measured on the synthetic set). Not learnt, so stage 1 still has no video-side learning.
        dynamic_input_norm (`bool`, *optional*, defaults to `True`):
            LayerNorm the CLIP embeddings entering each dynamic encoder (paper silent). It gives them unit
            per-dimension scale whatever the backbone, the scale `dynamic_position_init_std` is relative
            to; without it, a backbone whose embeddings are small drowns them in the positional and class
            embeddings (measured on a random CLIP: class embeddings at cosine 0.996 to each other).
        text_dynamic_num_layers (`int`, *optional*, defaults to 2):
            Blocks of the text dynamic encoder (paper figure: 2).
        video_dynamic_num_layers (`int`, *optional*, defaults to 4):
            Blocks of the image (video) dynamic encoder (paper figure: 4).
        jas_num_layers (`int`, *optional*, defaults to 4):
            Blocks of the joint synchronizer (paper figure: 4).
        jas_synchronization (`list[str]`, *optional*):
            Module Synchronization policy, one entry per JAS block: `"video.i"` / `"text.i"` copy block
            `i` of that dynamic encoder, `"init"` keeps the block's fresh initialisation. Default: block `i`
            copies the video dynamic encoder's block `i` (`["video.0", "video.1", "video.2", "video.3"]`;
            `"init"` past its depth). The figure links the image encoder's first two blocks to the JAS's
            first two and is silent on the rest; copying the whole video dynamic encoder makes the video path of
            stage 3 start exactly where stage 2 ended, so that stage 3 can keep what stage 2 learnt (with
            blocks 2-3 from the text dynamic encoder, test UAR fell from 85 to 60 at the switch on an unseen set).
            `["video.0", "video.1", "text.0", "text.1"]` is the other reading of the figure.
        jas_synchronization_stem (`str`, *optional*, defaults to `"video"`):
            Which encoder's non-block parameters (positional embeddings, class token, final norm, in/out
            maps) the JAS starts from: `"video"`, `"text"` or `"init"`.
        jas_sentence_dropout (`bool`, *optional*, defaults to `False`):
            Whether the JAS applies its dropout when it encodes the classes' sentences in stage 3 (it always does
            on frames). Off: the sentences are inputs the JAS never saw before stage 3, and dropout on them broke
            the classes at the switch (training loss 2 -> 30 on a benchmark task; paper silent).
        jas_class_offset (`bool`, *optional*, defaults to `False`):
            Whether stage 3's class embeddings are `jas(sentences)` plus a learnt offset per class (`mat.class_offset`,
            `(C, d)`), set at the switch to stage 2's class embeddings minus the JAS's, so that stage 3 starts with
            exactly stage 2's classes (the JAS reads sentences it never saw; without the offset the switch cost 12-33
            UAR points on a benchmark task; paper silent). It trains with the MAT.
        logit_scale_init (`float`, *optional*, defaults to 100.0):
            Temperature of the cosine similarity, as a multiplier (CLIP's trained value; paper silent).
        logit_scale_learnable (`bool`, *optional*, defaults to `False`):
            Whether the scale trains (with whichever groups train in the active stage).
        bap_stage (`int`, *optional*, defaults to 3):
            Active BAP stage, which selects the forward path: 1 averages frames, 2 runs the video
            dynamic encoder, 3 runs both modalities through the JAS; 0 is the model before training, CLIP's
            zero-shot classifier (the mean of the frames' unit vectors against the mean of each class's sentences'
            unit vectors; with `mat_init="text"`, CLIP's own zero-shot classification of the descriptions).

    Example:

    ```python
    >>> from a3lign import A3lignConfig, A3lignModel
    >>> config = A3lignConfig(id2label={0: "calm", 1: "excited"}, bap_stage=1)
    >>> model = A3lignModel(config)
    ```
    """

    model_type = "a3lign"
    sub_configs_defaults = {"clip_config": CLIPConfig}
    # Trainer's evaluation gathers logits only (class_embeds are (C, d), not per clip).
    keys_to_ignore_at_inference = ["video_embeds", "class_embeds"]

    clip_config: dict | CLIPConfig | None = None
    clip_name_or_path: str | None = None
    num_frames: int = 16
    image_size: int = 112
    mat_sentences: int = 16
    mat_tokens: int = 64
    mat_init: str = "random"
    mat_sentence_lengths: list[list[int]] | None = None
    mat_init_std: float = 0.02
    mat_period_token_id: int = 269
    mat_truncate_after_eot: bool = True
    dynamic_hidden_size: int | None = None
    dynamic_num_heads: int = 8
    dynamic_mlp_ratio: float = 4.0
    dynamic_dropout: float = 0.1
    dynamic_pooling: str = "cls"
    dynamic_position_embedding: str = "learned"
    dynamic_position_init_std: float = 1.0
    dynamic_input_norm: bool = True
    frame_standardization: bool = True
    text_dynamic_num_layers: int = 2
    video_dynamic_num_layers: int = 4
    jas_num_layers: int = 4
    jas_synchronization: list[str] | None = None
    jas_synchronization_stem: str = "video"
    jas_sentence_dropout: bool = False
    jas_class_offset: bool = False
    logit_scale_init: float = 100.0
    logit_scale_learnable: bool = False
    bap_stage: int = 3

    def __post_init__(self, **kwargs):
        if self.clip_config is None:
            self.clip_config = VIT_L14_CLIP_CONFIG
        if self.id2label is None and kwargs.get("num_labels") is None:
            kwargs["num_labels"] = DEFAULT_NUM_LABELS
        super().__post_init__(**kwargs)
        # transformers v5 does not derive one map from the other.
        if self.id2label is not None and not self.label2id:
            self.label2id = {name: index for index, name in self.id2label.items()}
        if self.dynamic_hidden_size is None:
            self.dynamic_hidden_size = self.clip_config.projection_dim
        if self.jas_synchronization is None:
            self.jas_synchronization = [
                f"video.{i}" if i < self.video_dynamic_num_layers else "init" for i in range(self.jas_num_layers)
            ]
        self.jas_synchronization = list(self.jas_synchronization)
        self.check()

    @property
    def max_dynamic_length(self) -> int:
        """Longest sequence a dynamic encoder sees: frames or sentences (the JAS sees both)."""
        return max(self.num_frames, self.mat_sentences)

    def check(self) -> None:
        """Raise `ValueError` naming the first field whose value is out of range."""
        text, vision = self.clip_config.text_config, self.clip_config.vision_config

        def fail(name, value, expected):
            raise ValueError(f"A3lignConfig.{name}={value!r} is invalid: expected {expected}.")

        if len(self.id2label) < 2:
            fail("id2label", self.id2label, "at least 2 labels")
        if self.bap_stage not in (0, 1, 2, 3):
            fail("bap_stage", self.bap_stage, "0 (zero-shot), 1, 2 or 3")
        if self.mat_init not in ("random", "text"):
            fail("mat_init", self.mat_init, "'random' or 'text'")
        lengths = self.mat_sentence_lengths
        if lengths is not None and (
            len(lengths) != len(self.id2label)
            or any(
                len(row) != self.mat_sentences or not all(1 <= n <= self.mat_tokens for n in row) for row in lengths
            )
        ):
            fail(
                "mat_sentence_lengths",
                lengths,
                f"{len(self.id2label)} x {self.mat_sentences} counts in [1, mat_tokens]",
            )
        for name in ("num_frames", "mat_sentences", "mat_tokens", "dynamic_hidden_size", "dynamic_num_heads"):
            if getattr(self, name) < 1:
                fail(name, getattr(self, name), "a positive integer")
        patch = vision.patch_size
        if self.image_size < patch or self.image_size % patch:
            sizes = ", ".join(
                str(patch * k) for k in range(max(1, self.image_size // patch), self.image_size // patch + 3)
            )
            fail("image_size", self.image_size, f"a multiple of CLIP's patch size {patch} (e.g. {sizes})")
        if self.mat_tokens + 3 > text.max_position_embeddings:
            fail(
                "mat_tokens",
                self.mat_tokens,
                f"at most {text.max_position_embeddings - 3}: T + 3 tokens (SOS, '.', EOT) must fit CLIP's "
                f"{text.max_position_embeddings} text positions",
            )
        if not 0 <= self.mat_period_token_id < text.vocab_size:
            fail("mat_period_token_id", self.mat_period_token_id, f"an id below CLIP's vocab_size {text.vocab_size}")
        if self.mat_init_std <= 0:
            fail("mat_init_std", self.mat_init_std, "a positive float")
        if self.dynamic_hidden_size % self.dynamic_num_heads:
            fail(
                "dynamic_num_heads",
                self.dynamic_num_heads,
                f"a divisor of dynamic_hidden_size {self.dynamic_hidden_size}",
            )
        if self.dynamic_mlp_ratio <= 0:
            fail("dynamic_mlp_ratio", self.dynamic_mlp_ratio, "a positive float")
        if not 0 <= self.dynamic_dropout < 1:
            fail("dynamic_dropout", self.dynamic_dropout, "a float in [0, 1)")
        if self.dynamic_pooling not in ("cls", "mean"):
            fail("dynamic_pooling", self.dynamic_pooling, "'cls' or 'mean'")
        if self.dynamic_position_embedding not in ("learned", "none"):
            fail("dynamic_position_embedding", self.dynamic_position_embedding, "'learned' or 'none'")
        depths = {"text": self.text_dynamic_num_layers, "video": self.video_dynamic_num_layers}
        for name in ("text_dynamic_num_layers", "video_dynamic_num_layers", "jas_num_layers"):
            if getattr(self, name) < 1:
                fail(name, getattr(self, name), "at least 1 block")
        if len(self.jas_synchronization) != self.jas_num_layers:
            fail("jas_synchronization", self.jas_synchronization, f"one entry per JAS block ({self.jas_num_layers})")
        for entry in self.jas_synchronization:
            source, _, index = entry.partition(".")
            if entry == "init":
                continue
            if source not in SYNC_SOURCES or not index.isdigit() or int(index) >= depths[source]:
                fail(
                    "jas_synchronization",
                    self.jas_synchronization,
                    f"entries 'init', 'video.i' (i < {depths['video']}) or 'text.i' (i < {depths['text']}); "
                    f"got {entry!r}",
                )
        if self.jas_synchronization_stem not in (*SYNC_SOURCES, "init"):
            fail("jas_synchronization_stem", self.jas_synchronization_stem, "'video', 'text' or 'init'")
        if self.logit_scale_init <= 0:
            fail("logit_scale_init", self.logit_scale_init, "a positive float")


__all__ = ["A3lignConfig"]
