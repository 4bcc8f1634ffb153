import pytest

from qa.ingest.clean import derive_title, extract_byline, is_chrome_line, kept_blocks
from tests.conftest import SEEDS


def test_chrome_lines_are_recognised() -> None:
    for line in [
        "Published by",
        "Topics:",
        "tracking",
        "Voz media US Voz.us",
        "Irán",
        "By Ellie Doughty, Foreign News Reporter",
        "Ali Kahemeni / Wikimedia Commons.",
    ]:
        assert is_chrome_line(line), line
    for line in [
        "'We woke up to a war'",
        "Iran refused to formally enter the war against Israel",
        "He said it was over.",
        "",
    ]:
        assert not is_chrome_line(line), line


def test_markup_splits_blocks_and_never_appears_in_them() -> None:
    text = "First caption[/caption] Second caption[/caption]The story begins. It goes on.\nMore."
    blocks = [b.of(text) for b in kept_blocks(text)]
    assert blocks == ["First caption", "Second caption", "The story begins. It goes on.\nMore."]


def test_dropped_line_splits_blocks() -> None:
    text = "One line here.\nTopics:\nAnother line here.\n"
    assert [b.of(text) for b in kept_blocks(text)] == ["One line here.", "Another line here."]


def test_seed_articles_drop_chrome_and_markup() -> None:
    for path in SEEDS.glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        kept = "\n".join(b.of(text) for b in kept_blocks(text))
        assert "[/caption]" not in kept
        for chrome in ("Published by", "Topics:", "tracking", "Voz media", "Wikimedia"):
            assert chrome not in kept


def test_title_is_first_kept_line_cut_at_a_word() -> None:
    text = "Voz media US Voz.us\n\nIran refused to enter the war\n\nBody text here."
    assert derive_title(text) == "Iran refused to enter the war"
    long = "word " * 60
    title = derive_title(long, max_chars=30)
    assert title.endswith("…") and len(title) <= 31


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("By Ellie Doughty, Foreign News Reporter", "Ellie Doughty"),
        ("By Jane Smith and John Doe", "Jane Smith and John Doe"),
        ("By Mary O’Brien & Seán Ó Ríordáin, BBC News", "Mary O’Brien & Seán Ó Ríordáin"),
        ("By Nick Robinson, political editor", "Nick Robinson"),
        ("by Jane van Dyke", "Jane van Dyke"),
        ("  By J. R. Hartley  ", "J. R. Hartley"),
    ],
)
def test_byline_names_without_the_role(line: str, names: str) -> None:
    assert extract_byline(f"Headline of the story\n{line}\nThe story begins here.\n") == names
    assert is_chrome_line(line)  # so the byline never reaches a passage


@pytest.mark.parametrize(
    "line",
    [
        "By Reuters",  # one word: an agency, not a person
        "By Staff Reporter",
        "By Tuesday, it was over.",
        "By early 2005 the net could have two new domain names.",
        "By contrast, Jane Smith said the plan would fail.",
        "Written by Jane Smith",
    ],
)
def test_not_a_byline(line: str) -> None:
    assert extract_byline(f"Headline of the story\n{line}\nMore text.\n") is None


def test_byline_line_stays_out_of_passages() -> None:
    text = "Budget approved\nBy Jane Smith and John Doe\nThe council approved the budget.\n"
    assert extract_byline(text) == "Jane Smith and John Doe"
    assert [b.of(text) for b in kept_blocks(text)] == ["The council approved the budget."]


def test_seed_byline() -> None:
    text = (SEEDS / "000_fcec8ea6051c7915.txt").read_text(encoding="utf-8")
    assert text.splitlines()[25] == "By Ellie Doughty, Foreign News Reporter"
    assert extract_byline(text) == "Ellie Doughty"
    assert "By Ellie Doughty" not in "\n".join(b.of(text) for b in kept_blocks(text))
    assert extract_byline((SEEDS / "004_e9619e141d084609.txt").read_text(encoding="utf-8")) is None
