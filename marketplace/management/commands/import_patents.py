"""Import a portfolio file (CSV or XLSX) for an organisation, with a progress bar."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from marketplace.errors import DomainError
from marketplace.models import ImportJob, User
from marketplace.services.imports import import_job_create, import_run


class Command(BaseCommand):
    help = "Import patents from a CSV or XLSX file (same columns and rules as the API)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--organisation", type=int, required=True, help="organisation id")
        parser.add_argument("--user", required=True, help="e-mail of the importing member")
        parser.add_argument("--all-or-nothing", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        user = User.objects.filter(email=options["user"].strip().lower()).first()
        if user is None:
            raise CommandError(f"No user with e-mail {options['user']!r}.")
        try:
            with path.open("rb") as stream:
                job = import_job_create(
                    actor=user,
                    organisation_id=options["organisation"],
                    upload=stream,
                    file_name=path.name,
                    size=path.stat().st_size,
                    all_or_nothing=options["all_or_nothing"],
                    enqueue=False,
                )
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.render_message()}") from error
        bar = tqdm(total=0, unit="rows", file=self.stderr, disable=options["verbosity"] == 0)

        def progress(current: ImportJob) -> None:
            bar.set_description(current.phase)
            if current.total_rows and bar.total != current.total_rows:
                bar.total = current.total_rows
            bar.n = current.processed_rows
            bar.refresh()

        job = import_run(job_id=job.pk, progress=progress)
        bar.close()
        for problem in job.errors[:50]:
            self.stdout.write(
                f"row {problem['row']} {problem['column']}: {problem['code']} {problem['message']}"
            )
        if job.failure:
            raise CommandError(job.failure)
        self.stdout.write(
            f"{job.status}: created {job.created_count}, updated {job.updated_count}, "
            f"errors {job.error_count}"
        )
