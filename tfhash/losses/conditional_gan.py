"""The matching-aware conditional GAN loss of Reed et al. (ICML 2016, GAN-CLS), on logits.

The discriminator D(x, t) judges image-text pairs. It sees three kinds:
a real image with its own text (-> 1), a real image with a text it does not
match (-> 0) and a generated image with the text it was made from (-> 0).
The mismatched pairs teach D to judge the *match*, not only realism, so G
must follow the text. The generator side is the usual non-saturating loss
`tfhash.losses.adversarial.generator_loss` on D(G(z, t), t).
"""

from tfhash.losses.adversarial import binary_cross_entropy


def matching_aware_discriminator_loss(match_logits, mismatch_logits, fake_logits, *, mismatch_weight=0.5,
                                      fake_weight=0.5):
    """-E log D(x, t) - w_mis E log(1 - D(x_hat, t)) - w_fake E log(1 - D(G(z, t), t)).

    Weights as in TUCH eq. 4 (lambda1 = lambda2 = 0.5), which is Reed et
    al.'s GAN-CLS loss with the two "fake" terms averaged.
    """
    return (binary_cross_entropy(1.0, match_logits)
            + mismatch_weight * binary_cross_entropy(0.0, mismatch_logits)
            + fake_weight * binary_cross_entropy(0.0, fake_logits))
