"""A3lign-DFER: frozen CLIP + MAT + dynamic encoders + JAS, with the three BAP forward paths.

Data flow (paper Fig. 2a; shapes with B clips, F frames, C classes, S sentences, T tokens, d = CLIP's
projection width):

    pixel_values_videos (B, F, 3, H, W) -> frozen CLIP vision tower -> frame embeddings (B, F, d)
    MAT (C, S, T, D) -> [SOS] tokens "." [EOT] -> frozen CLIP text tower -> sentence embeddings (C, S, d)
    stage 1: video = mean over F;                     class = text_dynamic_encoder(sentences)
    stage 2: video = video_dynamic_encoder(frames);   class = text_dynamic_encoder(sentences)
    stage 3: video = jas(frames);                     class = jas(sentences)
    logits (B, C) = scale * cosine(video, class)

Remote code: imports only torch, transformers and the sibling configuration file, so that a saved folder
builds its model without the `a3lign` package and without the processor's decoding dependencies (PyAV).
"""

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import CLIPModel, PreTrainedModel
from transformers import initialization as init
from transformers.masking_utils import create_causal_mask
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.utils import ModelOutput

from .configuration_a3lign import CUSTOM_PIPELINES, A3lignConfig

# The files of the custom pipeline every saved folder carries (the pipeline and the processor it imports).
PIPELINE_FILES = ("pipeline_a3lign.py", "processing_a3lign.py", "decoding_a3lign.py", "faces_a3lign.py")

# CLIP's fixed BPE vocabulary: <|startoftext|> and <|endoftext|>. Old hub configs of the OpenAI
# checkpoints carry bos=0 / eos=2 instead; transformers special-cases eos == 2 the same way.
CLIP_SOS_ID, CLIP_EOT_ID = 49406, 49407


def load_clip_tokenizer(clip_name_or_path):
    """The tokenizer saved with a CLIP checkpoint; `ValueError` naming what is missing when there is none."""
    from transformers import AutoTokenizer

    missing = (
        f"CLIP checkpoint '{clip_name_or_path}' has no tokenizer (tokenizer.json, or vocab.json and merges.txt): "
        f"mat_init='text' needs it to tokenise the class descriptions"
    )
    try:
        tokenizer = AutoTokenizer.from_pretrained(clip_name_or_path)
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"{missing} ({error})") from error
    # Without its files, transformers builds an empty CLIP tokenizer (2 tokens) that maps every word to one id.
    if len(tokenizer) < 258:
        raise ValueError(
            f"{missing} (found a tokenizer of {len(tokenizer)} tokens: a byte-level BPE has at least 258)"
        )
    return tokenizer


def clip_template_ids(text_config) -> tuple[int, int]:
    """(SOS id, EOT id) of a CLIP text config, correcting the legacy bos=0 / eos=2 configs."""
    if text_config.eos_token_id == 2:
        return CLIP_SOS_ID, CLIP_EOT_ID
    return text_config.bos_token_id, text_config.eos_token_id


@dataclass
class A3lignOutput(ModelOutput):
    r"""
    Output of [`A3lignModel`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*):
            Cross-entropy of `logits` against `labels`, when labels are given.
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Scaled cosine similarities between each video and each class.
        video_embeds (`torch.FloatTensor` of shape `(batch_size, projection_dim)`):
            One vector per clip, from the active stage's video path.
        class_embeds (`torch.FloatTensor` of shape `(num_labels, projection_dim)`):
            One vector per class, from the active stage's text path.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    video_embeds: torch.FloatTensor | None = None
    class_embeds: torch.FloatTensor | None = None


class A3lignMAT(nn.Module):
    """Multi-Dimensional Alignment Tokens (paper Fig. 2b): a learnable `(C, S, T, D)` tensor.

    Each class owns a paragraph of S sentences of up to T token embeddings of CLIP's text width D. Only the
    tokens are parameters; the template around them (SOS, ".", EOT) is looked up in the frozen CLIP
    token embedding at run time, so it can never go stale across loading, dtype or device moves. A sentence
    uses its first `config.mat_sentence_lengths[c][s]` tokens (all T unless set: a MAT initialised from text has
    its sentences end where their descriptions end, CoOp's convention; the slots past them are unused).
    """

    def __init__(self, config: A3lignConfig):
        super().__init__()
        width = config.clip_config.text_config.hidden_size
        self.tokens = nn.Parameter(torch.empty(config.num_labels, config.mat_sentences, config.mat_tokens, width))
        # Stage 3's per-class offset in the embedding space (config.jas_class_offset), set at the switch.
        self.class_offset = (
            nn.Parameter(torch.zeros(config.num_labels, config.clip_config.projection_dim))
            if config.jas_class_offset
            else None
        )
        self.sos_id, self.eot_id = clip_template_ids(config.clip_config.text_config)
        self.period_id = config.mat_period_token_id
        self.context_length = (
            None if config.mat_truncate_after_eot else config.clip_config.text_config.max_position_embeddings
        )
        lengths = config.mat_sentence_lengths or [[config.mat_tokens] * config.mat_sentences] * config.num_labels
        self.lengths = [length for row in lengths for length in row]  # (C * S,) plain numbers, set by the config

    @property
    def eot_positions(self) -> torch.Tensor:
        """`(C * S,)` where each sentence's EOT stands: after SOS, its tokens and the period."""
        return torch.tensor(self.lengths, device=self.tokens.device) + 2

    def forward(self, token_embedding: nn.Embedding) -> torch.Tensor:
        """Sentence inputs `(C * S, T + 3, D)`: `[SOS] t1 .. tL . [EOT]`, then EOT up to `T + 3` positions (or CLIP's
        context length when `mat_truncate_after_eot` is off); the causal mask makes what follows EOT irrelevant."""
        tokens = self.tokens.flatten(0, 1)
        num_sentences, slots = tokens.shape[:2]
        length = slots + 3 if self.context_length is None else self.context_length
        positions = torch.arange(length, device=tokens.device)
        lengths = self.eot_positions.unsqueeze(1) - 2
        ids = torch.full((num_sentences, length), self.eot_id, device=tokens.device)
        ids[:, 0] = self.sos_id
        ids[positions.unsqueeze(0) == lengths + 1] = self.period_id
        template = token_embedding(ids).to(tokens.dtype)
        padded = torch.cat([template[:, :1], tokens, template[:, slots + 1 :]], dim=1)
        learned = ((positions >= 1) & (positions.unsqueeze(0) <= lengths)).unsqueeze(-1)
        return torch.where(learned, padded, template)


class A3lignDynamicEncoder(nn.Module):
    """Transformer encoder over a time axis: frames of a clip, or sentences of a class (paper Fig. 2c).

    `(N, L, d)` -> `pooler_output (N, d)`. Inputs layer-normalised; learned positional embeddings added;
    pre-LN blocks; pooled at a prepended class token or by the mean. The text and video dynamic encoders and
    the JAS are three instances; the JAS is called once per modality with the same weights.
    """

    def __init__(self, config: A3lignConfig, num_layers: int):
        super().__init__()
        embed_dim, width = config.clip_config.projection_dim, config.dynamic_hidden_size
        # Unit scale whatever the backbone: the scale positional and class embeddings start at.
        self.input_norm = nn.LayerNorm(embed_dim) if config.dynamic_input_norm else nn.Identity()
        self.input_map = nn.Linear(embed_dim, width) if width != embed_dim else nn.Identity()
        self.position_embedding = (
            nn.Parameter(torch.empty(config.max_dynamic_length, width))
            if config.dynamic_position_embedding == "learned"
            else None
        )
        self.class_embedding = nn.Parameter(torch.empty(width)) if config.dynamic_pooling == "cls" else None
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                width,
                config.dynamic_num_heads,
                dim_feedforward=round(width * config.dynamic_mlp_ratio),
                dropout=config.dynamic_dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(width)
        self.output_map = nn.Linear(width, embed_dim) if width != embed_dim else nn.Identity()

    def stem_state_dict(self) -> dict[str, torch.Tensor]:
        """Everything but the blocks: what Module Synchronization's stem policy copies."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("blocks.")}

    @torch.no_grad()
    def copy_stem_from(self, other: "A3lignDynamicEncoder") -> None:
        """Copy `other`'s non-block parameters into this encoder (a method, so that wrappers such as
        peft's modules-to-save delegate it to the module that trains)."""
        own, theirs = self.stem_state_dict(), other.stem_state_dict()
        if own.keys() != theirs.keys():
            raise ValueError(f"encoders differ in their stems: {sorted(own.keys() ^ theirs.keys())}")
        for name, value in theirs.items():
            own[name].copy_(value)

    def forward(self, inputs_embeds: torch.Tensor) -> BaseModelOutputWithPooling:
        hidden = self.input_map(self.input_norm(inputs_embeds))
        length = hidden.shape[1]
        if length > self.max_length:
            raise ValueError(f"sequence of {length} exceeds the dynamic encoders' {self.max_length} positions")
        if self.position_embedding is not None:
            hidden = hidden + self.position_embedding[:length].to(hidden.dtype)
        if self.class_embedding is not None:
            cls = self.class_embedding.to(hidden.dtype).expand(hidden.shape[0], 1, -1)
            hidden = torch.cat([cls, hidden], dim=1)
        for block in self.blocks:
            hidden = block(hidden)
        hidden = self.final_norm(hidden)
        pooled = hidden[:, 0] if self.class_embedding is not None else hidden.mean(dim=1)
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=self.output_map(pooled))

    @property
    def max_length(self) -> int:
        return self.position_embedding.shape[0] if self.position_embedding is not None else 1 << 30


class _MeanOfUnitVectors(nn.Module):
    """`(N, L, d)` -> `pooler_output (N, d)`: the mean of the L unit vectors (the zero-shot class path)."""

    def forward(self, inputs_embeds: torch.Tensor) -> BaseModelOutputWithPooling:
        return BaseModelOutputWithPooling(pooler_output=F.normalize(inputs_embeds, dim=-1).mean(dim=1))


class A3lignPreTrainedModel(PreTrainedModel):
    config: A3lignConfig
    config_class = A3lignConfig
    base_model_prefix = "a3lign"
    main_input_name = "pixel_values_videos"
    input_modalities = ("video",)
    _supports_sdpa = True
    _no_split_modules = ["CLIPEncoderLayer", "A3lignDynamicEncoder"]
    # Trainer must not rescale our loss by the world size nor skip the accumulation division.
    accepts_loss_kwargs = False

    def _init_weights(self, module):
        config = self.config
        if isinstance(module, A3lignMAT):
            init.normal_(module.tokens, std=config.mat_init_std)
            if module.class_offset is not None:
                init.zeros_(module.class_offset)
        elif isinstance(module, A3lignDynamicEncoder):
            # On the scale of the embeddings they are added to (see dynamic_position_init_std).
            if module.position_embedding is not None:
                init.normal_(module.position_embedding, std=config.dynamic_position_init_std)
            if module.class_embedding is not None:
                init.normal_(module.class_embedding, std=config.dynamic_position_init_std)
        elif isinstance(module, A3lignModel):
            init.constant_(module.logit_scale, math.log(config.logit_scale_init))
            init.zeros_(module.frame_mean)
            init.ones_(module.frame_std)
        elif isinstance(module, (nn.Linear, nn.LayerNorm, nn.MultiheadAttention)):
            super()._init_weights(module)


class A3lignModel(A3lignPreTrainedModel):
    """A3lign-DFER for video classification: `pixel_values_videos (B, F, 3, H, W)` -> `logits (B, C)`.

    Parts, named as in the paper: `clip` (frozen towers), `mat`, `text_dynamic_encoder`,
    `video_dynamic_encoder`, `jas`. `config.bap_stage` selects the forward path ([`set_bap_stage`]),
    [`synchronize_modules`] builds the JAS. CLIP never trains; which of the other parts train in each
    BAP stage is the training side's decision, not the model's.
    """

    def __init__(self, config: A3lignConfig):
        super().__init__(config)
        self.clip = CLIPModel._from_config(config.clip_config)
        self.mat = A3lignMAT(config)
        self.text_dynamic_encoder = A3lignDynamicEncoder(config, config.text_dynamic_num_layers)
        self.video_dynamic_encoder = A3lignDynamicEncoder(config, config.video_dynamic_num_layers)
        self.jas = A3lignDynamicEncoder(config, config.jas_num_layers)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(config.logit_scale_init)))
        # Fixed training-set statistics of the frozen frame embeddings (identity until set).
        embed_dim = config.clip_config.projection_dim
        self.register_buffer("frame_mean", torch.zeros(embed_dim))
        self.register_buffer("frame_std", torch.ones(embed_dim))
        self.post_init()
        self.freeze_fixed_parts()

    # ----- construction and loading -----------------------------------------------------------
    @classmethod
    def from_clip_pretrained(
        cls, clip_name_or_path, id2label=None, mat_descriptions=None, **config_overrides
    ) -> "A3lignModel":
        """Build a fresh A3lign model around a CLIP checkpoint (hub id or local folder), copying its weights.

        Args:
            clip_name_or_path: e.g. `"openai/clip-vit-large-patch14"` or a folder saved by `CLIPModel`.
            id2label: `{index: name}` of the classes (default: 7, `LABEL_0`..`LABEL_6`).
            mat_descriptions: with `mat_init="text"`, `{class name: [sentence, ...]}` to start the MAT from
                (`init_mat_from_text`), tokenised by the checkpoint's own tokenizer.
            **config_overrides: any other [`A3lignConfig`] field.
        """
        clip = CLIPModel.from_pretrained(clip_name_or_path)
        if id2label is not None:
            config_overrides["id2label"] = {int(k): v for k, v in id2label.items()}
        config = A3lignConfig(
            clip_config=clip.config.to_dict(), clip_name_or_path=str(clip_name_or_path), **config_overrides
        )
        model = cls(config)
        model.clip.load_state_dict(clip.state_dict())
        if config.mat_init == "text":
            if not mat_descriptions:
                raise ValueError(
                    "mat_init='text' needs descriptions of the classes: pass mat_descriptions "
                    "{class name: [sentence, ...]}"
                )
            model.init_mat_from_text(mat_descriptions, load_clip_tokenizer(clip_name_or_path))
        return model

    @torch.no_grad()
    def init_mat_from_text(self, descriptions: dict, tokenizer) -> None:
        """Start the MAT from words (`mat_init="text"`): sentence s of class c takes the word embeddings of the s-th
        description of that class (`descriptions[name]`, cycled when fewer than S, the first S when more) and ends
        where it ends (`config.mat_sentence_lengths`), so that at initialisation the MAT's sentence embeddings are
        exactly CLIP's text features of those descriptions (each closed by one period, the template's). Every class
        needs descriptions; a description must fit `mat_tokens` tokens."""
        config = self.config
        names = [config.id2label[i] for i in range(config.num_labels)]
        missing = [name for name in names if not descriptions.get(name)]
        if missing:
            raise ValueError(
                f"no descriptions of the classes {missing}: mat_init='text' needs sentences for every class "
                f"(got descriptions of {sorted(descriptions)})"
            )
        token_embedding = self.clip.text_model.embeddings.token_embedding
        lengths = []
        for c, name in enumerate(names):
            row = []
            for s in range(config.mat_sentences):
                sentence = descriptions[name][s % len(descriptions[name])].strip().rstrip(".").strip()
                ids = tokenizer(sentence, add_special_tokens=False)["input_ids"]
                if not 1 <= len(ids) <= config.mat_tokens:
                    raise ValueError(
                        f"description {sentence!r} of {name} is {len(ids)} tokens: expected 1 to "
                        f"mat_tokens={config.mat_tokens}"
                    )
                self.mat.tokens[c, s, : len(ids)] = token_embedding(
                    torch.tensor(ids, device=token_embedding.weight.device)
                )
                row.append(len(ids))
            lengths.append(row)
        config.mat_sentence_lengths, config.mat_init = lengths, "text"
        self.mat.lengths = [length for row in lengths for length in row]
        self._class_cache = None

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        loaded = super().from_pretrained(*args, **kwargs)
        # from_pretrained turns requires_grad back on everywhere; `output_loading_info=True` returns (model, info).
        (loaded[0] if isinstance(loaded, tuple) else loaded).freeze_fixed_parts()
        return loaded

    def freeze_fixed_parts(self) -> None:
        """CLIP never trains (the paper keeps it frozen), nor does the logit scale unless `logit_scale_learnable`."""
        self.clip.requires_grad_(False)
        self.logit_scale.requires_grad_(self.config.logit_scale_learnable)

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save config, weights (safetensors) and code, the custom pipeline's included (named in
        `config.custom_pipelines`), so that `pipeline(model=folder)` gives one result per clip. The video processor
        is a separate object: save `A3lignVideoProcessor.from_model_config(model.config)` beside it (runs do)."""
        # register_for_auto_class records one class per save: name every Auto entry point.
        self.config.auto_map = {
            "AutoConfig": "configuration_a3lign.A3lignConfig",
            "AutoModel": "modeling_a3lign.A3lignModel",
            "AutoModelForVideoClassification": "modeling_a3lign.A3lignModel",
        }
        self.config.custom_pipelines = CUSTOM_PIPELINES
        result = super().save_pretrained(save_directory, *args, **kwargs)
        # The pipeline's code and what it imports (the processor's files), copied as files: importing them here would
        # make building the model need PyAV. Trainer checkpoints are saved through here too.
        here, there = Path(__file__).parent, Path(save_directory)
        for name in PIPELINE_FILES:
            if (here / name).exists() and not ((there / name).exists() and (there / name).samefile(here / name)):
                shutil.copyfile(here / name, there / name)
        return result

    def _apply(self, fn, *args, **kwargs):
        # Every dtype / device move lands here: new storages could reuse old addresses, so drop the cache.
        self._class_cache = None
        return super()._apply(fn, *args, **kwargs)

    # ----- BAP ---------------------------------------------------------------------------------
    def set_bap_stage(self, stage: int) -> None:
        """Select stage `stage`'s forward path (paper Fig. 2d): 1 averages frames, 2 runs the video dynamic
        encoder, 3 runs both modalities through the JAS; 0 is the model before training, CLIP's zero-shot classifier
        (`get_video_features`, `get_class_embeddings`). What trains is not the model's decision."""
        if stage not in (0, 1, 2, 3):
            raise ValueError(f"bap_stage={stage!r} is invalid: expected 0 (zero-shot), 1, 2 or 3.")
        self.config.bap_stage = stage

    @torch.no_grad()
    def synchronize_modules(self) -> None:
        """Module Synchronization (stage 2 -> 3): initialise the JAS from the two dynamic encoders.

        Block `k` of the JAS copies the block named by `config.jas_synchronization[k]` (`"video.i"`,
        `"text.i"`, or `"init"` to keep it); the non-block parameters copy
        `config.jas_synchronization_stem`'s. Copies, never shared parameters.
        """
        sources = {"video": self.video_dynamic_encoder, "text": self.text_dynamic_encoder}
        for block, entry in zip(self.jas.blocks, self.config.jas_synchronization):
            if entry != "init":
                source, index = entry.split(".")
                block.load_state_dict(sources[source].blocks[int(index)].state_dict())
        stem = self.config.jas_synchronization_stem
        if stem != "init":
            self.jas.copy_stem_from(sources[stem])

    @torch.no_grad()
    def set_frame_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the per-dimension mean and std `(d,)` that standardise frame embeddings
        (`config.frame_standardization`); compute them on the training set's frames, once."""
        if mean.shape != self.frame_mean.shape or std.shape != self.frame_std.shape or (std <= 0).any():
            raise ValueError(f"frame statistics must be two ({self.frame_mean.numel()},) tensors, std > 0")
        self.frame_mean.copy_(mean)
        self.frame_std.copy_(std)

    # ----- features ----------------------------------------------------------------------------
    def get_frame_embeddings(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        """Frozen CLIP image features of every frame: `(B, F, 3, H, W)` -> `(B, F, d)`."""
        if pixel_values_videos.dim() != 5:
            raise ValueError(
                "pixel_values_videos must have shape (batch, frames, 3, height, width); "
                f"got {tuple(pixel_values_videos.shape)}"
            )
        size = self.config.image_size
        if tuple(pixel_values_videos.shape[-3:]) != (3, size, size):
            raise ValueError(
                f"pixel_values_videos has frames of shape {tuple(pixel_values_videos.shape[-3:])}, "
                "but this model takes "
                f"(3, {size}, {size}) (config.image_size): feed it with the video processor saved beside it"
            )
        batch, frames = pixel_values_videos.shape[:2]
        # The patch embedding's dtype is the tower's (its linear layers may be int8-quantized: a3lign.predict.tower)
        pixels = pixel_values_videos.flatten(0, 1).to(self.clip.vision_model.embeddings.patch_embedding.weight.dtype)
        features = self.clip.get_image_features(pixel_values=pixels, interpolate_pos_encoding=True).pooler_output
        return features.view(batch, frames, -1)

    def get_video_features(
        self, pixel_values_videos: torch.Tensor | None = None, frame_embeddings: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One vector per clip, `(B, d)`, from pixels or from precomputed frame embeddings `(B, F, d)`."""
        if frame_embeddings is None:
            if pixel_values_videos is None:
                raise ValueError("pass pixel_values_videos (B, F, 3, H, W) or frame_embeddings (B, F, d)")
            frame_embeddings = self.get_frame_embeddings(pixel_values_videos)
        stage = self.config.bap_stage
        if stage == 0:  # CLIP's zero-shot classifier: the mean of the frames' unit vectors, in CLIP's own space
            return F.normalize(frame_embeddings, dim=-1).mean(dim=1)
        if self.config.frame_standardization:
            frame_embeddings = (frame_embeddings - self.frame_mean) / self.frame_std
        if stage == 1:  # no video-side learning yet: average over time
            return frame_embeddings.mean(dim=1)
        encoder = self.video_dynamic_encoder if stage == 2 else self.jas
        return encoder(frame_embeddings).pooler_output

    def get_sentence_embeddings(self) -> torch.Tensor:
        """The MAT's sentences through the frozen CLIP text tower, pooled at EOT: `(C, S, d)`.

        All C * S sentences go through in one batched pass. CLIP's text model takes no
        `inputs_embeds`, so its parts are driven here in CLIP's own order.
        """
        text = self.clip.text_model
        inputs = self.mat(text.embeddings.token_embedding).to(text.final_layer_norm.weight.dtype)
        hidden = text.embeddings(inputs_embeds=inputs)
        mask = create_causal_mask(config=text.config, inputs_embeds=hidden, attention_mask=None, cache=None)
        hidden = text.encoder(inputs_embeds=hidden, attention_mask=mask, is_causal=True).last_hidden_state
        # LayerNorm acts per position: normalising the EOT positions alone is exact and cheaper.
        pooled = text.final_layer_norm(
            hidden[torch.arange(hidden.shape[0], device=hidden.device), self.mat.eot_positions]
        )
        classes, sentences = self.mat.tokens.shape[:2]
        return self.clip.text_projection(pooled).view(classes, sentences, -1)

    def _class_path(self) -> tuple[nn.Module, list[torch.Tensor]]:
        """The active stage's class-side encoder and every tensor class embeddings depend on. Stage 0 (zero-shot):
        the mean of each class's sentences' unit vectors, CLIP's prompt ensembling, no encoder."""
        stage = self.config.bap_stage
        encoder = self.jas if stage == 3 else self.text_dynamic_encoder if stage else _MeanOfUnitVectors()
        tensors = [
            *self.mat.parameters(),
            *encoder.parameters(),
            *self.clip.text_model.parameters(),
            *self.clip.text_projection.parameters(),
        ]
        return encoder, tensors

    def get_class_embeddings(self, use_cache: bool = True) -> torch.Tensor:
        """One vector per class, `(C, d)`, from the active stage's text path.

        When no gradient can reach the class path (evaluation, inference, stage 2 training), the result
        is computed once and reused: the text tower would otherwise run C * S sentences on every batch.
        The cache key holds the stage and each tensor's storage, dtype, device and in-place version
        counter, so a training step, loading weights, Module Synchronization or a dtype / device move
        recomputes it. A frozen class path is computed without dropout (it has nothing to regularise).
        """
        encoder, tensors = self._class_path()
        if not use_cache or (torch.is_grad_enabled() and any(t.requires_grad for t in tensors)):
            if encoder is self.jas and encoder.training and not self.config.jas_sentence_dropout:
                encoder.eval()  # the JAS's dropout acts on frames only (config.jas_sentence_dropout)
                try:
                    return self._offset(encoder(self.get_sentence_embeddings()).pooler_output)
                finally:
                    encoder.train()
            return self._offset(encoder(self.get_sentence_embeddings()).pooler_output)
        key = (self.config.bap_stage, tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in tensors))
        cached = getattr(self, "_class_cache", None)
        if cached is None or cached[0] != key:
            was_training = encoder.training
            encoder.eval()
            with torch.no_grad():
                cached = (key, self._offset(encoder(self.get_sentence_embeddings()).pooler_output))
            encoder.train(was_training)
            self._class_cache = cached
        return cached[1]

    def _offset(self, embeds: torch.Tensor) -> torch.Tensor:
        """Stage 3's class embeddings `(C, d)` plus `mat.class_offset` (config.jas_class_offset); others unchanged."""
        if self.config.bap_stage != 3 or self.mat.class_offset is None:
            return embeds
        return embeds + self.mat.class_offset.to(embeds.dtype)

    @torch.no_grad()
    def set_class_offset(self, targets: torch.Tensor) -> None:
        """Set `mat.class_offset` so that stage 3's class embeddings equal `targets (C, d)` (stage 2's, at the
        switch): targets minus the JAS's own class embeddings, computed without dropout."""
        was_training, stage = self.jas.training, self.config.bap_stage
        self.set_bap_stage(3)
        self.jas.eval()
        self.mat.class_offset.zero_()
        self.mat.class_offset.copy_(targets.float() - self.get_class_embeddings(use_cache=False).float())
        self.jas.train(was_training)
        self.set_bap_stage(stage)
        self._class_cache = None

    def forward(
        self,
        pixel_values_videos: torch.Tensor | None = None,
        frame_embeddings: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> A3lignOutput | tuple:
        r"""
        Args:
            pixel_values_videos (`torch.FloatTensor` of shape `(batch_size, num_frames, 3, height, width)`):
                Normalised frames, as the model's `A3lignVideoProcessor` returns them.
            frame_embeddings (`torch.FloatTensor` of shape `(batch_size, num_frames, projection_dim)`, *optional*):
                Precomputed frozen CLIP frame features, in place of pixels.
            labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
                Class indices; the cross-entropy loss is returned when given.
        """
        video_embeds = self.get_video_features(pixel_values_videos, frame_embeddings)
        class_embeds = self.get_class_embeddings()
        logits = self.logit_scale.exp() * F.normalize(video_embeds, dim=-1) @ F.normalize(class_embeds, dim=-1).T
        loss = F.cross_entropy(logits.float(), labels.to(logits.device)) if labels is not None else None
        output = A3lignOutput(loss=loss, logits=logits, video_embeds=video_embeds, class_embeds=class_embeds)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if return_dict else output.to_tuple()


A3lignConfig.register_for_auto_class()
A3lignModel.register_for_auto_class("AutoModelForVideoClassification")

__all__ = ["A3lignModel", "A3lignPreTrainedModel", "A3lignOutput", "A3lignMAT", "A3lignDynamicEncoder"]
