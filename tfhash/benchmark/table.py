"""The benchmark's markdown: mean ± std per cell, best per column, paired differences against the reference."""

from tfhash.benchmark.aggregate import best_per_column, paired_differences, summarize

TASKS = (("i2t", "I→T"), ("t2i", "T→I"))


def _cell(cell, digits=3):
    if cell is None or cell.mean is None:
        return "–"
    return f"{cell.mean:.{digits}f}" + ("" if cell.std is None else f" ± {cell.std:.{digits}f}")


def metric_table(records, dataset, methods, bits, metric):
    """Markdown rows: one per method (and random codes), a column per (task, bits); best mean in bold."""
    head = "| method | " + " | ".join(f"{name} {b}" for _, name in TASKS for b in bits) + " |"
    lines = [head, "| --- |" + " ---: |" * (len(TASKS) * len(bits))]
    summaries = {task: summarize(records, metric, task) for task, _ in TASKS}
    best = {task: best_per_column(s) for task, s in summaries.items()}
    for method in methods:
        cells = []
        for task, _ in TASKS:
            for b in bits:
                text = _cell(summaries[task].get((dataset, method, b)))
                cells.append(f"**{text}**" if method in best[task].get((dataset, b), ()) else text)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    chance = {task: summarize(records, metric, task, random=True) for task, _ in TASKS}
    cells = []
    for task, _ in TASKS:  # random codes drawn with each run's seed; pooled over every method's runs
        for b in bits:
            values = [c for (d, _, bb), c in chance[task].items() if d == dataset and bb == b]
            cells.append(f"{sum(c.mean for c in values) / len(values):.3f}" if values else "–")
    lines.append("| random codes | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_table(records, dataset, methods, bits, metric, reference):
    """Markdown rows: per method, the mean per-seed difference from `reference` and the seeds it wins."""
    head = "| method | " + " | ".join(f"{name} {b}" for _, name in TASKS for b in bits) + " |"
    lines = [head, "| --- |" + " ---: |" * (len(TASKS) * len(bits))]
    diffs = {task: paired_differences(records, reference, metric, task) for task, _ in TASKS}
    for method in methods:
        if method == reference:
            continue
        cells = []
        for task, _ in TASKS:
            for b in bits:
                p = diffs[task].get((dataset, method, b))
                cells.append("–" if p is None else f"{p.mean:+.3f} ({p.wins}/{p.n})")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def benchmark_markdown(records, datasets, methods, bits, seeds, reference, *, command=None, images=None):
    """The whole table.md: a note on what the numbers are, then per dataset its split and tables."""
    Rs = next((r["report"].get("Rs") or [r["report"].get("R")] for r in records), [50])
    metrics = (("map_all", "MAP@all"),) + tuple((f"map@{r}", f"MAP@{r}") for r in Rs)
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}"
    protocols = sorted({r["report"].get("database_codes", "out-of-sample") for r in records})
    out = [
        f"Mean ± sample standard deviation (ddof=1) over {len(seeds)} run(s), {seed_text}; **bold**: the best mean "
        f"of its column. MAP@all and {', '.join(f'MAP@{r}' for r in Rs)} by Hamming ranking, "
        f"{', '.join(protocols)} database codes."
        + (f" Against {reference}: the mean over seeds of (method − {reference}) on the same seed, and on how many "
           f"seeds the method scores higher." if len(methods) > 1 else ""),
    ]
    if command:
        out.append(f"\nReproduce: `{command}`")
    for ds in datasets:
        out.append(f"\n### {ds.name}\n\nSplit: {ds.split}.")
        for metric, label in metrics:
            out.append(f"\n**{label}**\n\n" + metric_table(records, ds.name, methods, bits, metric))
            if len(methods) > 1:
                out.append(f"\n**{label}, against {reference}: mean paired difference (seeds won)**\n\n"
                           + paired_table(records, ds.name, methods, bits, metric, reference))
        learned = [dict(r, report=r["unified_report"]) for r in records
                   if r["dataset"] == ds.name and r.get("unified_report")]
        if learned:
            names = [m for m in methods if any(r["method"] == m for r in learned)]
            for metric, label in metrics:
                out.append(f"\n**{label}, unified database codes** (the database is the codes B learned for the "
                           f"training items, not their out-of-sample codes; only methods that learn B)\n\n"
                           + metric_table(learned, ds.name, names, bits, metric))
        for image in (images or {}).get(ds.name, []):
            out.append(f"\n![{image['title']}]({image['file']})")
    return "\n".join(out) + "\n"
