from __future__ import annotations

from pathlib import Path

from ryu_kovn import config, options_doc

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_option_table_is_generated_from_the_code():
    text = README.read_text()
    assert options_doc.render(text) == text, (
        "README.md's option table is out of date: run "
        "`.venv/bin/python -m ryu_kovn.options_doc README.md`"
    )


def test_every_option_has_a_row_with_its_default():
    rows = options_doc.table().splitlines()[2:]
    assert [r.split("`")[1] for r in rows] == [o.dest for o in config.OPTS]
    holdtime = next(r for r in rows if r.startswith("| `holdtime`"))
    assert "| 90s |" in holdtime and "3s to 65535s" in holdtime
