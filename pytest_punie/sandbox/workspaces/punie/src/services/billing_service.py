"""Invoices."""

from svcs_di import injectable


@injectable
class BillingService:
    def __init__(self, reports: Inject["ReportService"]):
        self.reports = reports

    def invoices(self) -> list[int]:
        return [1, 2, 3]
