"""matplotlib figures (inline backend) come back as images, in both API generations.

Azure's shape is ``result`` (gen 1) / ``result.executionResult`` (gen 2) =
``{"type": "image", "format": "png", "base64_data": ...}``; the full output list
(``outputs``, our extension) carries every figure as Jupyter does.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from pool_api import Api as Pool

from .helpers import new_sid, png_bytes

SHOW = "import matplotlib.pyplot as plt\nplt.plot([1, 4, 9], color='red'); plt.show()"
LAST_EXPRESSION = (
    "import matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots(figsize=(3, 2), dpi=100)\n"
    "ax.bar(['a', 'b'], [2, 5])\n"
    "fig"
)


@pytest.fixture(scope="module")
def figure_sid(pool_api: Pool) -> Iterator[str]:
    sid = new_sid()
    yield sid
    pool_api.delete(sid)


def _run(pool_api: Pool, sid: str, code: str, generation: int) -> tuple[Any, list[dict[str, Any]]]:
    """(Azure's result value, the output list) in the given generation's shape."""
    if generation == 1:
        props = pool_api.run1(sid, code)
        assert props["status"] == "Success", props["stderr"]
        return props["result"], props["outputs"]
    result = pool_api.ok(sid, code)
    return result["executionResult"], result["outputs"]


def _pngs(outputs: list[dict[str, Any]], kind: str) -> list[bytes]:
    return [
        base64.b64decode(o["data"]["image/png"])
        for o in outputs
        if o["output_type"] == kind and "image/png" in o.get("data", {})
    ]


@pytest.mark.parametrize("generation", [1, 2])
def test_plot_then_show_is_the_result_image_and_a_display_output(
    pool_api: Pool, figure_sid: str, generation: int
) -> None:
    value, outputs = _run(pool_api, figure_sid, SHOW, generation)
    image = png_bytes(value)
    assert _pngs(outputs, "display_data") == [image]
    assert not _pngs(outputs, "execute_result")
    with Image.open(io.BytesIO(image)) as picture:
        assert picture.format == "PNG" and picture.width > 200 and picture.height > 150
        red = sum(1 for r, g, b, *_ in picture.convert("RGB").getdata() if r > 200 and g < 80)
    assert red > 50  # the plotted line is there


@pytest.mark.parametrize("generation", [1, 2])
def test_figure_as_last_expression_is_the_result_image(
    pool_api: Pool, figure_sid: str, generation: int
) -> None:
    value, outputs = _run(pool_api, figure_sid, LAST_EXPRESSION, generation)
    image = png_bytes(value)
    assert _pngs(outputs, "execute_result") == [image]
    with Image.open(io.BytesIO(image)) as picture:
        assert picture.format == "PNG"
        assert 150 <= picture.width <= 320 and 100 <= picture.height <= 220  # 3x2 in at 100 dpi
