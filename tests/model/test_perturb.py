"""The changes of form that the suite and the counterfactual copies rely on (cases written for this test)."""

from __future__ import annotations

import pytest

from model import perturb

ADDRESSED = "@maria_k So sorry about the wait! Could you DM us your booking code?"
PLAIN = "Our new branch opens Saturday at 10am http"


def test_strip_and_add_handle_are_inverse_on_their_forms() -> None:
    assert perturb.strip_handle(ADDRESSED) == "So sorry about the wait! Could you DM us your booking code?"
    assert perturb.strip_handle("@a @b, thanks!") == "thanks!"
    assert perturb.add_handle(PLAIN) == "@user " + PLAIN
    assert perturb.strip_handle(PLAIN) is None  # nothing to strip: no unchanged copy
    assert perturb.add_handle(ADDRESSED) is None
    assert perturb.strip_handle("@user") is None  # nothing would remain


def test_dot_handle_toggles_and_needs_a_leading_handle() -> None:
    assert perturb.dot_handle("@user and our team launch X today") == ".@user and our team launch X today"
    assert perturb.dot_handle(".@user and our team launch X today") == "@user and our team launch X today"
    assert perturb.dot_handle(PLAIN) is None


def test_links_are_added_and_dropped_only_where_they_make_sense() -> None:
    assert perturb.drop_link(PLAIN) == "Our new branch opens Saturday at 10am"
    assert perturb.add_link(PLAIN) is None
    assert perturb.add_link("Back in stock!") == "Back in stock! http"
    assert perturb.drop_link("Read: http") is None  # one word would be left


def test_rt_tail_keeps_the_comment_and_replaces_the_retweet() -> None:
    post = "Congrats, well deserved! RT @user: We won the regional award for our river clean-up"
    swapped = perturb.swap_rt_tail(post)
    assert swapped is not None and swapped.startswith("Congrats, well deserved! RT @user: ")
    assert "regional award" not in swapped
    assert perturb.swap_rt_tail("RT @user: a plain retweet") is None  # no comment in front
    assert (
        perturb.add_rt_tail("Thanks for sharing!", "Doors open at 9")
        == "Thanks for sharing! RT @user: Doors open at 9"
    )


@pytest.mark.parametrize("name", sorted(perturb.PERTURBATIONS))
def test_every_perturbation_is_deterministic_normalised_and_never_a_copy(name: str) -> None:
    fn = perturb.PERTURBATIONS[name]
    for text in (ADDRESSED, PLAIN, "Love it! RT @GreenLeaf: Free coffee Friday https://example.com/x"):
        out = fn(text)
        assert out == fn(text)
        if out is not None:
            assert out != perturb.normalize(text)
            assert perturb.normalize(out) == out


def test_form_names_the_shape_in_a_feed() -> None:
    assert perturb.form(ADDRESSED) == "leading handle"
    assert perturb.form(".@user and our team launch X") == "leading handle"
    assert perturb.form(PLAIN) == "no handle"
    assert perturb.form("RT @user: big news") == "retweet"
    assert perturb.form("So proud of you! MT @user: we did it") == "comment + retweet"
    assert perturb.form('Agreed "@user: taxes are too high"') == "comment + retweet"
