import numpy as np
import pytest

from edge_sdk.rec.ctc import Charset, ctc_greedy_decode
from edge_sdk.errors import ModelFormatError

CHARS = Charset(list("abc"))  # classes: blank, a, b, c, space


def one_hot(seq: list, classes: int = 5, p: float = 0.9) -> np.ndarray:
    out = np.full((len(seq), classes), (1 - p) / (classes - 1), dtype=np.float32)
    out[np.arange(len(seq)), seq] = p
    return out


def test_charset_layout_blank_first_space_last() -> None:
    assert CHARS.characters == ["blank", "a", "b", "c", " "]
    assert len(Charset(list("abc"), use_space_char=False)) == 4


def test_merge_repeats_and_drop_blanks() -> None:
    probs = one_hot([1, 1, 0, 1, 2, 2, 0, 0, 4, 3])[None]
    assert ctc_greedy_decode(probs, CHARS)[0][0] == "aab c"


def test_score_is_mean_of_kept_characters() -> None:
    probs = one_hot([1, 2])
    probs[0, 1], probs[1, 2] = 0.6, 0.8
    text, score = ctc_greedy_decode(probs[None], CHARS)[0]
    assert text == "ab" and score == pytest.approx(0.7)


def test_all_blank_gives_empty_text_and_zero_score() -> None:
    assert ctc_greedy_decode(one_hot([0, 0, 0])[None], CHARS) == [("", 0.0)]


def test_random_logits_contract() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4, 40, 5)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    for text, score in ctc_greedy_decode(probs, CHARS):
        assert set(text) <= set("abc ") and 0.0 <= score <= 1.0 and len(text) <= 40


def test_dict_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ModelFormatError, match="gives 5 classes .* model outputs 6625"):
        CHARS.check_fits(6625, "test dict")
    CHARS.check_fits(5, "test dict")
