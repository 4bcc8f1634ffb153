from eval.abstention import DEFAULT_GRID, leave_one_out_grid, leave_one_out_logistic
from qa.answer.select import AbstainPolicy, Evidence

ON_TOPIC = Evidence(dense=0.7, coverage=1.0, bm25=5.0)
OFF_TOPIC = Evidence(dense=0.1, coverage=0.2, bm25=0.5)


def test_separable_signals_are_learned_from_the_other_questions() -> None:
    evidence = [ON_TOPIC] * 8 + [OFF_TOPIC] * 6
    answerable = [True] * 8 + [False] * 6
    expected = [not ok for ok in answerable]
    assert leave_one_out_grid(evidence, answerable, DEFAULT_GRID) == expected
    assert leave_one_out_logistic(evidence, answerable) == expected


def test_an_unanswerable_question_that_looks_answerable_is_missed() -> None:
    """Its signals are those of the answerable ones: no policy fitted without it catches it."""
    evidence = [ON_TOPIC] * 8 + [OFF_TOPIC] * 6 + [ON_TOPIC]
    answerable = [True] * 8 + [False] * 7
    expected = [False] * 8 + [True] * 6 + [False]
    grid = [AbstainPolicy(min_dense=t) for t in (0.05, 0.3, 0.8)]
    assert leave_one_out_grid(evidence, answerable, grid) == expected
    assert leave_one_out_logistic(evidence, answerable) == expected
