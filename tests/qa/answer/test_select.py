import pytest

from qa.answer.select import AbstainPolicy, Evidence, should_abstain

POLICY = AbstainPolicy(min_dense=0.3, strong_dense=0.6, min_coverage=0.75, min_bm25=2.0)


@pytest.mark.parametrize(
    ("evidence", "abstain"),
    [
        (Evidence(dense=0.2, coverage=1.0, bm25=9.0), True),  # off-topic: weak cosine
        (Evidence(dense=0.5, coverage=0.5, bm25=1.0), True),  # middling, no lexical support
        (Evidence(dense=0.5, coverage=0.5, bm25=2.5), False),  # a passage matches lexically
        (Evidence(dense=0.5, coverage=0.8, bm25=1.0), False),  # its terms are in the collection
        (Evidence(dense=0.65, coverage=0.0, bm25=0.0), False),  # strong cosine needs no support
        (Evidence(dense=0.3, coverage=1.0, bm25=0.0), False),  # exactly at the threshold answers
    ],
)
def test_should_abstain(evidence: Evidence, abstain: bool) -> None:
    assert should_abstain(evidence, POLICY) is abstain
