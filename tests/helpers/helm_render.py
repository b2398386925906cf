"""Renders our Helm chart for the tests (no helm binary on these machines).

Supports the subset of Go templates the chart uses, and nothing more: values and release
fields (`.Values.a.b`, `$.Release.Name`, `.`), `if`, `range`, `define`/`include`, and the
functions `quote`, `toYaml` and `nindent`. `{{-` trims the whitespace before a tag. A
template using anything else fails here, loudly, rather than being rendered wrong.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

TAG = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    for match in TAG.finditer(text):
        literal = text[pos:match.start()]
        if trim_next:
            literal = literal.lstrip()
        if match.group(1):
            literal = literal.rstrip()
        out.append(("text", literal))
        out.append(("tag", match.group(2)))
        trim_next = bool(match.group(3))
        pos = match.end()
    tail = text[pos:]
    out.append(("text", tail.lstrip() if trim_next else tail))
    return out


def _parse(tokens, i=0, closing=False):
    nodes = []
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "text":
            nodes.append(("text", value))
        elif value == "end":
            if not closing:
                raise ValueError("unexpected {{ end }}")
            return nodes, i
        elif value.startswith(("if ", "range ", "define ")):
            word, arg = value.split(" ", 1)
            body, i = _parse(tokens, i + 1, closing=True)
            nodes.append((word, arg.strip(), body))
        elif value.startswith("/*") or value.startswith("else"):
            raise ValueError(f"unsupported template action: {value}")
        else:
            nodes.append(("expr", value))
        i += 1
    if closing:
        raise ValueError("missing {{ end }}")
    return nodes, i


class Chart:
    def __init__(self, path: Path, values: dict, release: str = "opsn"):
        self.path = path
        meta = yaml.safe_load((path / "Chart.yaml").read_text())
        self.root = {"Values": values, "Release": {"Name": release},
                     "Chart": {"AppVersion": meta["appVersion"], "Name": meta["name"]}}
        self.defines: dict[str, list] = {}
        for helper in sorted((path / "templates").glob("_*.tpl")):
            nodes, _ = _parse(_tokens(helper.read_text()))
            for node in nodes:
                if node[0] == "define":
                    self.defines[json.loads(node[1])] = node[2]

    def _value(self, ref: str, dot):
        if ref == ".":
            return dot
        if ref.startswith('"'):
            return json.loads(ref)
        if ref.startswith("$."):
            current, parts = self.root, ref[2:].split(".")
        elif ref.startswith("."):
            current, parts = dot, ref[1:].split(".")
        else:
            raise ValueError(f"unsupported reference: {ref}")
        for part in parts:
            current = current[part] if isinstance(current, dict) and part in current else None
        return current

    def _eval(self, expression: str, dot):
        head, *filters = [p.strip() for p in expression.split("|")]
        words = head.split()
        if words[0] == "include":
            value = self._render(self.defines[json.loads(words[1])], self._value(words[2], dot))
        elif words[0] == "toYaml":
            value = yaml.safe_dump(self._value(words[1], dot), default_flow_style=False,
                                   sort_keys=False).rstrip("\n")
        elif len(words) == 1:
            value = self._value(words[0], dot)
        else:
            raise ValueError(f"unsupported expression: {expression}")
        for item in filters:
            name, *args = item.split()
            if name == "quote":
                value = json.dumps("" if value is None else str(value), ensure_ascii=False)
            elif name == "nindent":
                pad = " " * int(args[0])
                value = "\n" + "\n".join(pad + line if line else line
                                         for line in str(value).lstrip("\n").splitlines())
            else:
                raise ValueError(f"unsupported function: {name}")
        if value is None:
            raise ValueError(f"{expression} has no value")
        return value

    def _render(self, nodes, dot) -> str:
        out = []
        for node in nodes:
            if node[0] == "text":
                out.append(node[1])
            elif node[0] == "expr":
                out.append(str(self._eval(node[1], dot)))
            elif node[0] == "if":
                if self._eval(node[1], dot):
                    out.append(self._render(node[2], dot))
            elif node[0] == "range":
                for item in self._eval(node[1], dot) or []:
                    out.append(self._render(node[2], item))
        return "".join(out)

    def manifests(self) -> list[dict]:
        docs = []
        for template in sorted((self.path / "templates").glob("*.yaml")):
            nodes, _ = _parse(_tokens(template.read_text()))
            text = self._render(nodes, self.root)
            docs.extend(d for d in yaml.safe_load_all(text) if d)
        return docs
