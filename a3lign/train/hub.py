"""`--push_to_hub`: a finished run folder to a Hub model repository, once, at the end of the run (checkpoints stay
local). The repository is created, or found, before training starts, so a missing token, a taken name or no
network stops the run before hours of work, not after.

What is pushed is what `from_pretrained` and `pipeline(..., trust_remote_code=True)` need (config, weights, the
model's, processor's and pipeline's code, the processor's config), with the model card, metrics.json, the figures
and the TensorBoard logs; not checkpoints, nor the record of clips that failed to decode (listed in metrics.json).
"""

from pathlib import Path

from huggingface_hub import HfApi

# Relative paths in the run folder never pushed (fnmatch patterns, as `upload_folder` applies them).
PUSH_IGNORE = ["checkpoint-*", "_*", "*.jsonl", "*.lock"]


def hub_repo_id(training_args, fold: str | None = None, several_folds: bool = False) -> str:
    """`--hub_model_id`, else the output folder's name (the Trainer's rule); `-fold-K` appended when a `--fold all`
    run pushes each fold to its own repository."""
    repo_id = training_args.hub_model_id or Path(training_args.output_dir).absolute().name
    return f"{repo_id}-fold-{fold}" if several_folds else repo_id


class HubPush:
    """One run's repository: `create()` before training (checks token, name, network and the `revision` branch),
    `upload(folder)` after."""

    def __init__(
        self, repo_id: str, token: str | None = None, private: bool | None = None, revision: str | None = None
    ):
        self.api = HfApi(token=token)
        self.repo_id, self.private, self.revision = repo_id, private, revision

    def create(self) -> str:
        try:
            url = self.api.create_repo(self.repo_id, private=self.private, exist_ok=True)
        except Exception as error:  # offline mode, HTTP errors, no token: huggingface_hub's own exceptions
            raise RuntimeError(
                f"--push_to_hub: the Hub repository '{self.repo_id}' cannot be created or reached "
                f"({type(error).__name__}: {error}); fix it, or train without --push_to_hub"
            ) from error
        self.repo_id = url.repo_id  # with the user's namespace where the name had none
        if self.revision:
            try:  # the branch too, now: the upload names it
                self.api.create_branch(self.repo_id, branch=self.revision, exist_ok=True)
            except Exception as error:
                raise RuntimeError(
                    f"--push_to_hub: branch '{self.revision}' of '{self.repo_id}' cannot be created "
                    f"({type(error).__name__}: {error})"
                ) from error
        return self.repo_id

    def upload(self, folder: Path, message: str) -> str:
        """Push `folder`; on failure the error names the folder, which is complete on disk, and how to push it
        again."""
        try:
            info = self.api.upload_folder(
                repo_id=self.repo_id,
                folder_path=folder,
                commit_message=message,
                ignore_patterns=PUSH_IGNORE,
                revision=self.revision,
            )
        except Exception as error:
            raise RuntimeError(
                f"--push_to_hub: the run folder '{folder}' is complete, but uploading it to '{self.repo_id}' failed "
                f"({type(error).__name__}: {error}). Push it later with: huggingface_hub.HfApi().upload_folder("
                f"repo_id='{self.repo_id}', folder_path='{folder}', ignore_patterns={PUSH_IGNORE}"
                f"{f', revision={self.revision!r}' if self.revision else ''})"
            ) from error
        return info.commit_url


__all__ = ["HubPush", "hub_repo_id", "PUSH_IGNORE"]
