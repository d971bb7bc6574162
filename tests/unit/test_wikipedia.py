import io

import pytest

from container.errors import KindlingError
from container.wikipedia import pages, plain_text

WIKITEXT = """{{Infobox person|name=Ada {{nowrap|Lovelace}}|born=1815}}
'''Ada Lovelace''' was an [[England|English]] [[mathematician]]s and writer.<ref name="a">{{cite book|title=X}}</ref>
<!-- a hidden comment -->
== Early life ==
She worked on [[Charles Babbage]]'s [[Analytical Engine|engine]].<ref>Some ref</ref>
[[File:Ada.jpg|thumb|Portrait of [[Ada Lovelace|Ada]] in 1840]]
{| class="wikitable"
| cell one || cell two
|}
* A list item with an [http://example.org external link] and &amp; an entity.
[[Category:Mathematicians]]
[[de:Ada Lovelace]]
"""


def test_markup_is_stripped_and_link_text_kept():
    text = plain_text(WIKITEXT)
    assert text.splitlines() == [
        "Ada Lovelace was an English mathematicians and writer.",
        "Early life",
        "She worked on Charles Babbage's engine.",
        "A list item with an external link and & an entity.",
    ]


def test_nested_templates_and_tables_unwind():
    assert plain_text("a {{x|{{y|{{z}}}}}} b {|\n|{|\n|inner\n|}\n|} c") == "a  b  c"


XML = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">
  <page><title>Alpha</title><ns>0</ns><id>1</id>
    <revision><id>99</id><text>Alpha is [[Beta|the second]].</text></revision></page>
  <page><title>Old name</title><ns>0</ns><id>2</id><redirect title="Alpha" />
    <revision><id>98</id><text>#REDIRECT [[Alpha]]</text></revision></page>
  <page><title>Talk:Alpha</title><ns>1</ns><id>3</id>
    <revision><id>97</id><text>chatter</text></revision></page>
</mediawiki>"""


def test_pages_carry_title_id_namespace_and_redirect():
    found = list(pages(io.BytesIO(XML.encode()), "x.xml"))
    assert [(p.title, p.page_id, p.namespace, p.redirect) for p in found] == [
        ("Alpha", 1, 0, None), ("Old name", 2, 0, "Alpha"), ("Talk:Alpha", 3, 1, None)]
    assert found[0].text == "Alpha is [[Beta|the second]]."


@pytest.mark.parametrize("body, code", [(b"<html><body>hi</body></html>", "not_a_dump"),
                                        (b"<mediawiki><page><title>x</page>", "bad_xml")])
def test_xml_that_is_not_a_dump_is_named(body, code):
    with pytest.raises(KindlingError) as caught:
        list(pages(io.BytesIO(body), "input/x.xml"))
    assert caught.value.code == code and "input/x.xml" in caught.value.message
