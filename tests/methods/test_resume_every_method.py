"""Every method resumes after a kill and ends bit for bit where an uninterrupted run ends.

A run is "killed" right after the checkpoint of its second epoch, then resumed
with `--resume`; its final checkpoint (model, optimizers, seed generators,
stored codes and features) and its exported codes must equal those of a run
that was never interrupted. The settings put the kill inside each method's
schedule: UGACH between D pre-training and the adversarial epochs, SDCH after
its two freezing epochs, TUCH between its GAN and hashing stages. UCH has its
own version of this test in test_uch.py.
"""

import os

import pytest

from tests.helpers import assert_same_h5, structured_dataset

TUCH_SMALL = dict(text_dim=16, text_hidden=(32,), text_projection=16, noise_dim=8, generator_hidden=(32,),
                  image_hidden=(32,), text_branch_dim=16, discriminator_hidden=16, text_epochs=1, gan_epochs=1)
SETTINGS = {
    "ugach": dict(image_hidden=(32,), text_hidden=(32,), pretrain_epochs=2),
    "sdch": dict(image_hidden=(32,), text_hidden=(32,), feature_dim=16),
    "dvsh": dict(image_hidden=(32,), fusion_width=16, embedding_dim=8, batch_size=40),
    "dvsh-bow": dict(image_hidden=(32,), text_hidden=(32,), batch_size=40),
    "tuch": TUCH_SMALL,
    "tuch-seq": dict(TUCH_SMALL, embedding_dim=8),
}
EPOCHS, KILLED_AFTER = 4, 2


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return structured_dataset(tmp_path_factory.mktemp("resume"), n=240, query_size=40, image_dim=16, text_dim=20,
                              text_kind="both", num_classes=4)


@pytest.mark.parametrize("method", sorted(SETTINGS))
def test_resumed_run_ends_where_an_uninterrupted_run_ends(method, dataset, tmp_path, monkeypatch):
    from tfhash.methods.registry import get_method
    from tfhash.training import checkpoint
    from tfhash.training.run import train

    config = get_method(method).config_class(bits=8, epochs=EPOCHS, **SETTINGS[method])
    whole = train(method, config, dataset_path=dataset, run_dir=str(tmp_path / "whole"), evaluate=False, verbose=0)

    original = checkpoint.EpochCheckpoint.on_epoch_end

    def killed(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch + 1 == KILLED_AFTER:
            raise KeyboardInterrupt

    resumed = str(tmp_path / "resumed")
    with monkeypatch.context() as patch:
        patch.setattr(checkpoint.EpochCheckpoint, "on_epoch_end", killed)
        with pytest.raises(KeyboardInterrupt):
            train(method, config, dataset_path=dataset, run_dir=resumed, evaluate=False, verbose=0)
    assert checkpoint.latest_checkpoint(os.path.join(resumed, "checkpoints")).endswith(f"ckpt-{KILLED_AFTER:05d}.h5")
    train(method, config, dataset_path=dataset, run_dir=resumed, resume=True, evaluate=False, verbose=0)

    final = os.path.join("checkpoints", f"ckpt-{EPOCHS:05d}.h5")
    assert_same_h5(os.path.join(whole, final), os.path.join(resumed, final))
    assert_same_h5(os.path.join(whole, "codes.h5"), os.path.join(resumed, "codes.h5"))
