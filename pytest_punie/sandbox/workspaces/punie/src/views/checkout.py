"""The checkout page: a cart and a payment form."""

from tdom import html


def Cart(items: list[str]) -> str:
    return html("<ul>{rows}</ul>", rows="".join(html("<li>{item}</li>", item=item) for item in items))


def Checkout(items: list[str]) -> str:
    return html("<main>{cart}<PaymentForm /></main>", cart=Cart(items))
