import pandas as pd
import pytest

from resnet_viz.config import NetConfig
from resnet_viz.counting import count
from resnet_viz.figures import stage_cost_figure


def test_stage_cost_figure_stacks_each_stage_share():
    df = pd.DataFrame(count(NetConfig(depth=20))["stages"])
    fig = stage_cost_figure(df)
    assert fig.layout.barmode == "stack"
    assert [t.name for t in fig.data] == ["stem", "stage1", "stage2", "stage3", "head"]
    for i in range(2):  # parameters, multiply-adds: the shares add up to the whole net
        assert sum(t.y[i] for t in fig.data) == pytest.approx(100)
    stage3 = fig.data[3]
    assert stage3.y[0] == pytest.approx(100 * 203_520 / 269_722)
    assert stage3.customdata[0][0] == "203,520"
