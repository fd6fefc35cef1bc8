"""Sort module-level import blocks the way ament's flake8-import-order (google style) wants.

Key per statement: (__future__, stdlib, everything else), then the module name
case-insensitively; names inside `from x import a, b` sorted case-insensitively. Only
blocks of consecutive import statements separated by blank lines are rewritten; a block
with comments or code between its statements is left alone.

Usage: python tools/sort_imports.py FILE...
"""
import ast
import sys

LINE = 99


def _group(module: str) -> int:
    top = module.split('.')[0]
    if top == '__future__':
        return 0
    return 1 if top in sys.stdlib_module_names else 2


def _render(node: ast.stmt, original: str) -> str:
    if isinstance(node, ast.Import):
        return original
    names = sorted(node.names, key=lambda a: a.name.lower())
    parts = [a.name if a.asname is None else f'{a.name} as {a.asname}' for a in names]
    head = f'from {"." * node.level}{node.module or ""} import '
    one = head + ', '.join(parts)
    if len(one) <= LINE and '#' not in original:
        return one
    if '#' in original:
        return original
    lines, current = [], head + '('
    indent = ' ' * len(current)
    for i, part in enumerate(parts):
        piece = part + (', ' if i < len(parts) - 1 else ')')
        if len(current) + len(piece.rstrip()) > LINE:
            lines.append(current.rstrip())
            current = indent
        current += piece
    lines.append(current)
    return '\n'.join(lines)


def _key(node: ast.stmt) -> tuple:
    module = node.names[0].name if isinstance(node, ast.Import) else (node.module or '')
    return (_group(module), module.lower())


def fix(path: str) -> bool:
    source = open(path).read()
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    body = tree.body
    edits = []
    i = 0
    while i < len(body):
        if not isinstance(body[i], (ast.Import, ast.ImportFrom)):
            i += 1
            continue
        j = i
        while j + 1 < len(body) and isinstance(body[j + 1], (ast.Import, ast.ImportFrom)):
            j += 1
        block = body[i:j + 1]
        between_ok = all(not lines[k].strip() for a, b in zip(block, block[1:])
                         for k in range(a.end_lineno, b.lineno - 1))
        if between_ok and len(block) > 1:
            edits.append(block)
        elif between_ok and isinstance(block[0], ast.ImportFrom):
            edits.append(block)
        i = j + 1
    if not edits:
        return False
    for block in reversed(edits):
        start, end = block[0].lineno - 1, block[-1].end_lineno
        rendered = []
        previous_group = None
        for node in sorted(block, key=_key):
            original = ''.join(lines[node.lineno - 1:node.end_lineno]).rstrip('\n')
            group = _key(node)[0]
            if previous_group is not None and group != previous_group:
                rendered.append('')
            rendered.append(_render(node, original))
            previous_group = group
        lines[start:end] = [text + '\n' for text in '\n'.join(rendered).split('\n')]
    new = ''.join(lines)
    if new != source:
        open(path, 'w').write(new)
        return True
    return False


if __name__ == '__main__':
    changed = [p for p in sys.argv[1:] if fix(p)]
    print(f'{len(changed)} file(s) rewritten')
