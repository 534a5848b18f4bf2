"""Monthly reports."""

from svcs_di import Inject, injectable

from services.billing_service import BillingService


@injectable
class ReportService:
    def __init__(self, billing: Inject[BillingService]):
        self.billing = billing

    def monthly(self) -> list[str]:
        return [str(x) for x in self.billing.invoices()]
