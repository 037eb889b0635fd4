"""course_utils.video: the moving-digits clips, the 3-D and 2-D models, conv cost."""
import math

import pytest
import torch
from torch import nn

from course_utils import video
from course_utils.conv import count_conv_multiplications
from course_utils.models import count_params


@pytest.fixture
def digits():
    g = torch.Generator().manual_seed(0)
    return (torch.rand(10, 1, 28, 28, generator=g) > 0.7).float()


def _centre_of_mass(frame: torch.Tensor) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(frame.shape[0]), torch.arange(frame.shape[1]), indexing="ij")
    total = frame.sum()
    return torch.stack([(rows * frame).sum() / total, (cols * frame).sum() / total])


def test_clips_move_the_digit_in_the_labelled_direction(digits):
    clips, labels = video.moving_digits(digits, 40, frames=8, size=32, digit_size=16, speed=2, seed=1)
    assert clips.shape == (40, 1, 8, 32, 32) and labels.shape == (40,)
    assert 0 <= clips.min() and clips.max() <= 1
    steps = list(video.DIRECTIONS.values())
    for clip, label in zip(clips, labels):
        move = _centre_of_mass(clip[0, -1]) - _centre_of_mass(clip[0, 0])
        expected = torch.tensor(steps[int(label)], dtype=torch.float32) * 2 * 7
        assert torch.allclose(move, expected, atol=1e-3)


def test_every_direction_occurs_and_a_path_that_does_not_fit_is_refused(digits):
    _, labels = video.moving_digits(digits, 200, seed=0)
    assert set(labels.tolist()) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="does not fit"):
        video.moving_digits(digits, 4, frames=10, size=32, digit_size=16, speed=2)


def test_a_reversed_clip_looks_like_the_opposite_direction(digits):
    """Same start positions either way: the first frames of 'left' clips are the last frames of 'right' ones."""
    clips, labels = video.moving_digits(digits, 2000, frames=8, seed=2)
    first_col = lambda c: _centre_of_mass(c[0, 0])[1]  # noqa: E731
    right = torch.stack([first_col(c) for c, l in zip(clips, labels) if l == 0])
    left_last = torch.stack([_centre_of_mass(c[0, -1])[1] for c, l in zip(clips, labels) if l == 1])
    assert abs(float(right.mean() - left_last.mean())) < 0.6


@pytest.mark.parametrize("make", [lambda: video.conv3d(4), lambda: video.per_frame_2d(4),
                                  lambda: video.frames_as_channels(8, 4)])
def test_models_map_clips_to_four_scores(make):
    assert make()(torch.zeros(2, 1, 8, 32, 32)).shape == (2, 4)


def test_per_frame_model_ignores_the_order_of_frames():
    torch.manual_seed(0)
    model = video.per_frame_2d(4).eval()
    x = torch.rand(3, 1, 8, 16, 16)
    assert torch.allclose(model(x), model(x.flip(2)), atol=1e-6)
    model3d = video.conv3d(4).eval()
    assert not torch.allclose(model3d(x), model3d(x.flip(2)), atol=1e-6)


def test_conv_cost_formula_matches_torch():
    layer = nn.Conv3d(8, 16, (3, 5, 5), padding=(1, 2, 2))
    out = layer(torch.zeros(1, 8, 4, 10, 12))
    cost = video.conv_cost(layer, out.shape[2:])
    assert cost["params"] == count_params(layer) == 16 * 8 * 3 * 5 * 5 + 16
    assert cost["macs"] == count_conv_multiplications(layer, (1, 8, 4, 10, 12)) == math.prod(out.shape[1:]) * 8 * 75
    flat = nn.Conv2d(8, 16, 3, bias=False)
    assert video.conv_cost(flat, (6, 6)) == {"params": 16 * 8 * 9, "macs": 36 * 16 * 8 * 9}
    with pytest.raises(ValueError, match="3 sizes"):
        video.conv_cost(layer, (4, 4))
    with pytest.raises(TypeError):
        video.conv_cost(nn.Linear(2, 2), (1,))


def test_pictures(digits):
    import matplotlib

    matplotlib.use("Agg")
    clips, _ = video.moving_digits(digits, 3, seed=0)
    gif = video.clip_gif(clips)
    assert gif[:6] in (b"GIF89a", b"GIF87a")
    ax = video.clip_strip(clips[0], title="x")
    assert ax.get_title() == "x"
