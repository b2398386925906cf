"""The official EN 16931 validation of a CII invoice: the CEN schematron compiled to XSLT
(vendored in ``tests/data/en16931``), run by Saxon (SaxonC-HE, ``saxonche``).

``en16931_failures(xml)`` returns the failed asserts as (flag, rule id, text, location);
an empty list means the file passes. No network: the stylesheet is read from disk.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from saxonche import PySaxonProcessor

STYLESHEET = Path(__file__).resolve().parent.parent / "data" / "en16931" / (
    "EN16931-CII-validation.xslt")
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}


@dataclass(frozen=True)
class Failure:
    flag: str  # "fatal" or "warning"
    rule: str  # e.g. "BR-E-02"
    text: str
    location: str

    def __str__(self) -> str:
        return f"[{self.flag}] {self.rule}: {self.text} ({self.location})"


@functools.cache
def _executable():
    processor = PySaxonProcessor(license=False)
    compiler = processor.new_xslt30_processor()
    return processor, compiler.compile_stylesheet(stylesheet_file=str(STYLESHEET))


def en16931_failures(xml: bytes) -> list[Failure]:
    """Every failed assert of the EN 16931 CII rules on ``xml`` (fatal and warning)."""
    processor, executable = _executable()
    document = processor.parse_xml(xml_text=xml.decode("utf-8"))
    report = executable.transform_to_string(xdm_node=document)
    tree = etree.fromstring(report.encode("utf-8"))
    return [Failure(flag=node.get("flag") or "", rule=node.get("id") or "",
                    text=" ".join(node.findtext("svrl:text", default="", namespaces=SVRL)
                                  .split()),
                    location=node.get("location") or "")
            for node in tree.iterfind(".//svrl:failed-assert", namespaces=SVRL)]


def en16931_fatal(xml: bytes) -> list[Failure]:
    return [f for f in en16931_failures(xml) if f.flag == "fatal"]
