#!/usr/bin/env python3
"""Checks that the folders of Sources/StackGAN depend only on folders upstream of them.

The pipeline order is ORDER below (a folder may use itself, the files at the root of
Sources/StackGAN and any folder before it). For every top-level declaration of a folder (a type,
a function, a constant) it searches the other folders' code, comments and strings removed, and
prints each use from a folder upstream of the declaring one. Exit status 1 when there is one.
Extension members are not followed (they are named like locals); docs/architecture.md says so.

    python3 scripts/check_layers.py
"""
import os
import re
import sys

ORDER = ["Config", "Models", "Losses", "Run", "Training", "Generation", "Evaluation", "Reporting", "Ablation"]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "StackGAN")
DECLARATION = re.compile(r"^(?:@\w+ )*(?:(?:public|final|private|fileprivate|internal|indirect) )*"
                         r"(struct|enum|class|protocol|typealias|actor|func|let|var) (\w+)", re.M)


def code(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r'"""(?:.|\n)*?"""', '""', text)
    text = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', text)
    return re.sub(r"//.*", "", text)


files = {}
for folder in ORDER:
    directory = os.path.join(ROOT, folder)
    for base, _, names in os.walk(directory):
        for name in names:
            if name.endswith(".swift"):
                files[os.path.join(base, name)] = (folder, code(os.path.join(base, name)))
unknown = sorted(set(os.listdir(ROOT)) - set(ORDER) - {n for n in os.listdir(ROOT) if n.endswith(".swift")})
if unknown:
    sys.exit(f"folders not in ORDER: {', '.join(unknown)}")

declared = {}  # name -> (folder, is a function)
for path, (folder, text) in files.items():
    for kind, name in DECLARATION.findall(text):
        declared[name] = (folder, kind == "func")

problems = 0
for path, (folder, text) in sorted(files.items()):
    for name, (owner, function) in declared.items():
        if ORDER.index(owner) <= ORDER.index(folder):
            continue
        # A function is used by a call not preceded by a dot (a method of the same name is not it).
        pattern = rf"(?<![.\w]){name}\(" if function else rf"\b{name}\b"
        for match in re.finditer(pattern, text):
            line = text.count("\n", 0, match.start()) + 1
            print(f"{os.path.relpath(path, ROOT)}:{line}: {folder} uses {name} of {owner}, which is downstream of it")
            problems += 1
print(f"{len(files)} files in {len(ORDER)} folders, {len(declared)} declarations: {problems} uses against the order")
sys.exit(1 if problems else 0)
