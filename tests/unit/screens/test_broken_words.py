"""A word wrapped mid-word is found; whole-word wrapping is not (screens.measure)."""

from __future__ import annotations

from screens.measure import broken_words


def test_whole_words_on_several_lines_are_fine() -> None:
    assert broken_words("Kortinnehavare är här", ["Kortinnehavare", "är här"]) == []
    assert broken_words("ett\ntvå", ["ett", "två"]) == []


def test_a_word_cut_across_lines_is_named() -> None:
    assert broken_words("Kortinnehavare är här", ["Kortinneh", "avare är", "här"]) == [
        "Kortinnehavare"]
    assert broken_words("Complete by", ["Comple", "te by"]) == ["Complete"]


def test_no_break_spaces_keep_a_phrase_one_word() -> None:
    step = "Steg\u00a04\u00a0av\u00a06"
    assert broken_words(f"Aktivera kort · {step}", ["Aktivera kort ·", step]) == []
    cut = ["Aktivera", "kort ·", "Steg\u00a04\u00a0av\u00a0", "6"]
    assert broken_words(f"Aktivera kort · {step}", cut) == [step]
