from qa.ingest.clean import derive_title, is_chrome_line, kept_blocks
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
