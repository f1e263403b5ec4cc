"""queue:bench: measure enqueue, drain and latency on a scratch queue (see app/bench)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.console.cli import cli
from app.console.options import check_count, check_seconds
from app.console.output import bad_option, console, err_console, print_json

if TYPE_CHECKING:
    from rich.table import Table


@cli.command("queue:bench")
def bench(
    jobs: Annotated[int, typer.Option(help="Jobs per figure")] = 10_000,
    workers: Annotated[int, typer.Option(help="Worker processes for the drain")] = 1,
    concurrency: Annotated[int, typer.Option(help="Jobs at once per worker process")] = 10,
    latency_jobs: Annotated[int, typer.Option(help="Jobs for the latency figure")] = 200,
    figures: Annotated[str | None, typer.Option(
        help="Figures to measure, comma-separated (default: enqueue,enqueue_unique,"
             "enqueue_bulk,drain,batch_dispatch,batch_drain,latency; also backlog, middleware,"
             " drain_async, default_worker, io_async, io_threads, dispatchers, payload,"
             " latency_load, churn)")] = None,
    backlog: Annotated[bool, typer.Option(
        help="Also drain with a large backlog waiting (slow: inserts --backlog-rows rows)")
    ] = False,
    backlog_rows: Annotated[int, typer.Option(help="Rows waiting in the backlog figure")
                            ] = 1_000_000,
    middleware: Annotated[bool, typer.Option(
        help="Also drain jobs with one no-op middleware, and measure RateLimited (+12 s)")
    ] = False,
    dispatchers: Annotated[int, typer.Option(
        help="Processes of the dispatchers figure")] = 8,
    dispatcher_jobs: Annotated[int, typer.Option(
        help="dispatch() calls per process in the dispatchers figure")] = 2_000,
    churn_jobs: Annotated[int, typer.Option(
        help="Jobs through the queue in the churn figure")] = 1_000_000,
    timeout: Annotated[float, typer.Option(help="Seconds a drain may take")] = 300.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON only")] = False,
) -> None:
    """Measure this queue on the configured database; leaves the database as it was."""
    from app.bench import DEFAULT_FIGURES, BenchOptions, run_bench
    from app.bench.figures import BACKLOG_SMALL

    for option, value, least in (("jobs", jobs, 1), ("workers", workers, 1),
                                 ("concurrency", concurrency, 1),
                                 ("latency-jobs", latency_jobs, 1),
                                 ("backlog-rows", backlog_rows, BACKLOG_SMALL + 1),
                                 ("dispatchers", dispatchers, 1),
                                 ("dispatcher-jobs", dispatcher_jobs, 1),
                                 ("churn-jobs", churn_jobs, 2)):
        check_count(f"--{option}", value, least)
    check_seconds("--timeout", timeout)
    if timeout == 0:
        bad_option("--timeout", "must be more than 0")
    chosen = chosen_figures(figures) if figures is not None else DEFAULT_FIGURES
    options = BenchOptions(jobs=jobs, workers=workers, concurrency=concurrency,
                           latency_jobs=latency_jobs, backlog_rows=backlog_rows, timeout=timeout,
                           figures=(*chosen,
                                    *extra_figures(backlog=backlog, middleware=middleware)),
                           dispatchers=dispatchers, dispatcher_jobs=dispatcher_jobs,
                           churn_jobs=churn_jobs)
    progress = (lambda line: None) if json_output else \
        (lambda line: err_console().print(f"  [dim]{line} …[/dim]"))
    try:
        result = run_bench(options, progress)
    except KeyboardInterrupt:
        err_console().print("interrupted: the scratch queue and its workers were removed")
        raise typer.Exit(130) from None
    if json_output:
        print_json(result)
    else:
        console().print(table(result))


def extra_figures(**flags: bool) -> tuple[str, ...]:
    """--backlog and --middleware: the figure of that name, beside those chosen."""
    return tuple(name for name, wanted in flags.items() if wanted)


def chosen_figures(text: str) -> tuple[str, ...]:
    from app.bench import FIGURES

    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in FIGURES]
    if unknown or not names:
        problem = f"has no figure {unknown[0]!r}" if unknown else "is empty"
        bad_option("--figures", f"{problem}; choose from {', '.join(FIGURES)}")
    return names


def table(r: dict[str, Any]) -> Table:
    from rich.table import Table

    db, s = r["database"], r["settings"]
    title = (f"Skiplock on PostgreSQL {db['version']} ({db['server']}, synchronous_commit="
             f"{db['synchronous_commit']}, fsync={db['fsync']}"
             f"{'' if s['checkpoint'] else ', no CHECKPOINT: not allowed'})")
    t = Table(title=title, title_justify="left")
    t.add_column("figure")
    t.add_column("result", justify="right")
    t.add_column("detail", style="dim")
    for name, rows in ROWS.items():
        if r.get(name) is not None:
            for row in rows(r[name], s):
                t.add_row(*row)
    return t


Row = tuple[str, str, str]


def jobs_per_s(d: dict[str, Any]) -> str:
    return f"{d['jobs_per_s']:,} jobs/s"


def drain_detail(d: dict[str, Any]) -> str:
    cpu = d.get("worker_cpu_s_per_1000_jobs")
    return (f"{d['jobs']:,} jobs in {d['seconds']:.3f} s, each ran exactly once"
            + (f"; worker CPU {cpu:.2f} s per 1,000 jobs" if cpu is not None else ""))


def enqueue_rows(e: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    return [("enqueue, one dispatch() per job", jobs_per_s(e),
             f"{e['jobs']:,} jobs in {e['seconds']:.2f} s")]


def bulk_rows(b: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    return [("bulk enqueue, dispatch_many()", jobs_per_s(b),
             f"{b['jobs']:,} jobs in {b['seconds']:.3f} s")]


def drain_rows(d: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    return [(f"drain, {s['workers']} worker process{'es' if s['workers'] > 1 else ''} "
             f"at concurrency {s['concurrency']}", jobs_per_s(d), drain_detail(d))]


def latency_rows(lat: dict[str, Any], s: dict[str, Any], label: str = "latency") -> list[Row]:
    grid = f"{lat['jobs']} jobs {lat['interval_ms']:g} ms apart"
    if "load_jobs_per_s" in lat:
        grid += f", beside {lat['load_jobs_per_s']:,} other jobs/s"
    elif not lat["worker_settings"]["listen_notify"]:
        grid += f" polling every {lat['worker_settings']['sleep_s']:g} s (QUEUE_LISTEN=false)"
    tail = f"max {lat['max_ms']:.2f} ms"
    if lat.get("cold_first_job_ms") is not None:
        tail += f"; first job of a fresh worker {lat['cold_first_job_ms']:.2f} ms"
    return [(f"{label}, committed dispatch → start: median", f"{lat['median_ms']:.2f} ms",
             grid),
            (f"{label}, committed dispatch → start: p99", f"{lat['p99_ms']:.2f} ms", tail)]


def unique_rows(u: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    return [("unique enqueue, one dispatch() per unique job", jobs_per_s(u),
             f"{u['jobs']:,} jobs in {u['seconds']:.2f} s")]


def batch_dispatch_rows(bd: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    return [("batch dispatch, one batch() of all the jobs", jobs_per_s(bd),
             f"{bd['jobs']:,} jobs in {bd['seconds']:.3f} s")]


def batch_drain_rows(bdr: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    return [("batch drain, same workers", jobs_per_s(bdr),
             f"the batch counted to its end; {drain_detail(bdr)}")]


def middleware_rows(m: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    noop, rate = m["noop_drain"], m["rate_limited"]
    share = f"{noop['of_plain']:.2f}" if noop["of_plain"] is not None else "n/a"
    rows = [("drain, one no-op middleware ÷ plain drain", share, jobs_per_s(noop)),
            (f"RateLimited({rate['limit']} per {rate['per_s']:g} s): started ÷ allowed",
             f"{rate['accuracy']:.2f}", f"{rate['started']} started in {rate['seconds']:g} s "
             f"with {rate['jobs_waiting']:,} waiting")]
    for half in ("first_half", "second_half"):
        h = rate[half]
        rows.append((f"RateLimited: claims/s, {half.replace('_', ' ')}",
                     f"{h['claims_per_s']:g}", f"worker CPU {h['worker_cpu_pct']}% of a core"))
    return rows


def backlog_rows(bl: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    small, large = bl["small"], bl["large"]
    return [(f"drain with {large['waiting_rows']:,} waiting ÷ with "
             f"{small['waiting_rows']:,}", f"{bl['ratio']:.2f}",
             f"{large['jobs_per_s']:,} vs {small['jobs_per_s']:,} jobs/s")]


def async_rows(a: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    return [(f"async def drain at concurrency {key[1:]}", jobs_per_s(pair["async"]),
             f"{pair['ratio']:.2f} of the plain job's {pair['plain']['jobs_per_s']:,} jobs/s; "
             + drain_detail(pair["async"])) for key, pair in a.items()]


def default_worker_rows(d: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    return [(f"default worker (queue:work, no options), {key[1:]} process(es)",
             jobs_per_s(run), drain_detail(run)) for key, run in d.items()]


def io_rows(label: str) -> Any:
    def rows(d: dict[str, Any], s: dict[str, Any]) -> list[Row]:
        return [(f"{label}, concurrency {d['worker_settings']['concurrency']}", jobs_per_s(d),
                 f"{d['pct_of_ideal']:g} % of the ideal {d['ideal_jobs_per_s']:,} jobs/s; "
                 + drain_detail(d))]
    return rows


def dispatchers_rows(d: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    return [(f"{d['processes']} processes each dispatch() {d['each']:,} jobs", jobs_per_s(d),
             f"{d['jobs']:,} jobs in {d['seconds']:.2f} s")]


def payload_rows(p: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    return [(f"drain of {p['payload_bytes']:,}-byte payloads", jobs_per_s(p["payload"]),
             f"{p['ratio']:.2f} of the no-op's {p['plain']['jobs_per_s']:,} jobs/s; "
             + drain_detail(p["payload"]))]


def churn_rows(c: dict[str, Any], s: dict[str, Any]) -> list[Row]:
    first, last, mem = c["rounds"][0], c["rounds"][-1], c["memory"]
    return [(f"churn without vacuum, {c['jobs']:,} jobs: last {c['round']:,} ÷ first",
             f"{c['last_over_first']:.2f}",
             f"{last['jobs_per_s']:,} vs {first['jobs_per_s']:,} jobs/s; {last['dead_rows']:,} "
             f"dead rows, a claim reads {last['claim_pages']:,} pages (first: "
             f"{first['claim_pages']:,})"),
            ("worker memory: idle, growth over the churn", f"{mem['idle_mb']:g} MB",
             f"+{mem['growth_mb']:g} MB from the first round's end ({mem['after_first_round_mb']:g}"
             f" MB) to the last's ({mem['end_mb']:g} MB)")]


ROWS = {"enqueue": enqueue_rows, "enqueue_unique": unique_rows, "enqueue_bulk": bulk_rows,
        "drain": drain_rows, "batch_dispatch": batch_dispatch_rows,
        "batch_drain": batch_drain_rows, "latency": latency_rows, "backlog": backlog_rows,
        "middleware": middleware_rows, "drain_async": async_rows,
        "default_worker": default_worker_rows, "io_async": io_rows("I/O-bound async def"),
        "io_threads": io_rows("I/O-bound threads"), "dispatchers": dispatchers_rows,
        "payload": payload_rows,
        "latency_load": lambda d, s: latency_rows(d, s, "latency under load"),
        "churn": churn_rows}
"""The table's rows of each figure, in the order measured."""
