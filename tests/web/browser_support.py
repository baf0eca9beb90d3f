"""What every studio test does in the browser: find, click, wait, open a section, connect with a key."""

from __future__ import annotations

import time

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except StaleElementReferenceException:
            last = None  # the page re-rendered under us: look again
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def q(scope, css: str):
    """The element matching `css` inside `scope` (the driver or an element)."""
    return scope.find_element(By.CSS_SELECTOR, css)


def qa(scope, css: str):
    return scope.find_elements(By.CSS_SELECTOR, css)


def click(driver, element) -> None:
    # The speak bar is fixed at the bottom: bring the target to the middle of the window first.
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def goto(driver, section: str) -> None:
    """Open one of the studio's sections with its tab, as a user would."""
    click(driver, q(driver, f"#tab-{section}"))
    wait_for(lambda: q(driver, f"#{section}").is_displayed(), 5, f"the {section} section shown")


def connect(driver, key: str) -> None:
    field = q(driver, "#api-key")
    field.clear()
    field.send_keys(key)
    click(driver, q(driver, "#key-form button[type=submit]"))

