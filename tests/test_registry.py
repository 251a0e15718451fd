"""Plugin discovery: entry points, broken plugins, name clashes, FGAV_PLUGINS, list/create."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import fgav
from fgav import registry
from fgav.cli import FgavGroup, add_plugin_commands, cli
from fgav.core.errors import FgavError


def _install(site: Path, name: str, module_source: str) -> None:
    """Write a throwaway plugin distribution (module + dist-info with an entry point)."""
    module = f"fgav_test_{name}"
    (site / f"{module}.py").write_text(textwrap.dedent(module_source))
    info = site / f"fgav_test_{name}-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fgav-test-{name}\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text(f"[fgav]\n{name} = {module}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A site folder on sys.path whose plugins the registry sees; the registry is restored after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in list(sys.modules):
        if name.startswith("fgav_test_"):
            del sys.modules[name]
    monkeypatch.undo()
    registry.load_plugins(reload=True)


GOOD = """
    import fgav
    from torch import nn

    class Cube(fgav.Backbone):
        '''A throwaway backbone: one conv.'''
        name = "throwaway-cube"
        def __init__(self, **options):
            super().__init__()
            self.out_channels = 4
            self.conv = nn.Conv2d(3, 4, 3, stride=4, padding=1)
        def forward(self, x):
            return self.conv(x)

    class Gaze(fgav.AuxHead):
        '''A throwaway head: two logits.'''
        name = "throwaway-gaze"
        target_key = "spoof"
        def __init__(self, in_channels, **options):
            super().__init__(in_channels)
            self.fc = nn.Linear(in_channels, 2)
        def forward(self, features):
            return self.fc(features.mean((2, 3)))
        def loss(self, pred, target):
            return nn.functional.cross_entropy(pred, target, reduction="none")

    @fgav.hookimpl
    def fgav_backbones():
        return [Cube]

    @fgav.hookimpl
    def fgav_heads():
        return [Gaze]
"""


def test_a_third_party_plugin_is_discovered_and_builds_with_builtin_heads(site: Path) -> None:
    _install(site, "good", GOOD)
    reg = registry.load_plugins(reload=True)
    assert reg.plugins["good"] == "0.3.0"
    assert "throwaway-cube" in fgav.list_backbones("throwaway-*")
    info = registry.components("head")["throwaway-gaze"]
    assert info.plugin == "good" and info.summary == "A throwaway head: two logits."
    model = fgav.build_model("throwaway-cube", ["throwaway-gaze", "depth"], image_size=32)
    outputs = model(torch.rand(2, 3, 32, 32))
    assert outputs["throwaway-gaze"].shape == (2, 2) and outputs["depth"].shape == (2, 1, 14, 14)
    assert fgav.create_head("throwaway-gaze", 8).correct(torch.zeros(1, 2), torch.zeros(1)) is None


def test_a_broken_plugin_is_reported_and_everything_else_works(site: Path) -> None:
    _install(site, "broken", "raise ImportError('needs a package that is not installed')\n")
    with pytest.warns(RuntimeWarning, match="plugin 'broken' failed to load: ImportError: needs a package"):
        reg = registry.load_plugins(reload=True)
    assert "broken" in reg.failed and "broken" not in reg.plugins
    assert "resnet18" in fgav.list_backbones()


def test_a_name_clash_keeps_the_builtin_and_isolates_the_plugin(site: Path) -> None:
    _install(site, "clash", """
        import fgav
        from foolbox.attacks import LinfFastGradientAttack
        class Imposter(fgav.Backbone):
            '''Claims a built-in's name.'''
            name = "resnet18"
        class FakeFGSM(LinfFastGradientAttack):
            '''Claims the built-in FGSM's name.'''
            name = "fgsm"
        class Fine(LinfFastGradientAttack):
            '''A well-behaved attack of the same plugin.'''
            name = "throwaway-fine"
        @fgav.hookimpl
        def fgav_backbones():
            return [Imposter]
        @fgav.hookimpl
        def fgav_attacks():
            return [FakeFGSM, Fine]
    """)
    reg = registry.load_plugins(reload=True)
    with pytest.warns(RuntimeWarning, match=r"plugin 'clash' failed to load: fgav_backbones: the backbone 'resnet18' .*"
                                            r"clashes with 'fgav'.*'fgav' keeps the name"):
        assert registry.components("backbone")["resnet18"].plugin == "fgav"
    with pytest.warns(RuntimeWarning, match=r"fgav_attacks: the attack 'fgsm'"):
        assert registry.components("attack")["fgsm"].plugin == "fgav"
    assert registry.components("attack")["throwaway-fine"].plugin == "clash", "the plugin's other attack stays"
    assert "fgsm" in reg.failed["clash"] and "resnet18" in reg.failed["clash"]
    assert type(fgav.create_attack("fgsm")).__module__.startswith("fgav."), "the built-in runs"


BAD_HOOKS = """
    import fgav
    from torch import nn

    class NoName(fgav.Backbone):
        '''A backbone without a name.'''

    class NotAHead(nn.Module):
        '''A module that is no AuxHead.'''
        name = "throwaway-not-a-head"

    class Aug(fgav.Augmenter):
        '''A fine augmenter, registered under another function name.'''
        name = "throwaway-aug"
        def forward(self, x, batch):
            return x

    @fgav.hookimpl
    def fgav_backbones():
        return ["resnet18", NoName]

    @fgav.hookimpl
    def fgav_heads():
        return [NotAHead]

    @fgav.hookimpl
    def fgav_attacks():
        raise RuntimeError("attack hook broke")

    @fgav.hookimpl(specname="fgav_augmenters")
    def my_augmenters():
        return [Aug]
"""


def test_faulty_hooks_are_isolated_and_specname_works(site: Path) -> None:
    _install(site, "bad", BAD_HOOKS)
    reg = registry.load_plugins(reload=True)
    with pytest.warns(RuntimeWarning) as caught:
        for kind in registry.KINDS:
            registry.components(kind)
    messages = [str(w.message) for w in caught]
    assert any("fgav_backbones: 'resnet18' is not a class" in m for m in messages), messages
    assert any("NoName has no name" in m for m in messages), messages
    assert any("NotAHead is not a subclass of fgav.core.interfaces.AuxHead" in m for m in messages), messages
    assert any("fgav_attacks: RuntimeError: attack hook broke" in m for m in messages), messages
    assert "bad" in reg.plugins, "a faulty hook drops its components, not the plugin"
    assert registry.components("augmenter")["throwaway-aug"].plugin == "bad", "@hookimpl(specname=...) is called"
    assert "fgsm" in fgav.list_attacks() and "resnet18" in fgav.list_backbones()
    add_plugin_commands()
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    assert "NotAHead is not a subclass" in result.output


def test_a_misspelled_hook_is_the_plugins_failure(site: Path) -> None:
    _install(site, "typo", """
        import fgav
        @fgav.hookimpl
        def fgav_backbone():
            return []
    """)
    with pytest.warns(RuntimeWarning, match=r"plugin 'typo' failed to load: .*unknown hook 'fgav_backbone'"):
        reg = registry.load_plugins(reload=True)
    assert "typo" in reg.failed and "typo" not in reg.plugins
    assert "resnet18" in fgav.list_backbones()


def test_a_plugin_command_cannot_replace_a_builtin_one(site: Path) -> None:
    _install(site, "hijack", """
        import click
        import fgav
        @fgav.hookimpl
        def fgav_commands(cli):
            @cli.command("train")
            def train():
                '''Pretends to train.'''
                click.echo("hijacked")
            @cli.command("throwaway-hello")
            def hello():
                '''Says hello.'''
                click.echo("hello")
    """)
    reg = registry.load_plugins(reload=True)
    group = FgavGroup("fgav")
    with pytest.warns(RuntimeWarning, match=r"plugin 'hijack' failed to load: fgav_commands: the command 'train' is taken"):
        add_plugin_commands(group)
    assert group.commands["train"].callback.__module__.startswith("fgav.cli"), "the built-in keeps the name"
    assert "throwaway-hello" in group.commands
    assert "train" in reg.failed["hijack"]


def test_fgav_plugins_restricts_the_entry_points_loaded(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(site, "good", GOOD)
    monkeypatch.setenv("FGAV_PLUGINS", "nothing-else")
    reg = registry.load_plugins(reload=True)
    assert "good" not in reg.plugins and "throwaway-cube" not in fgav.list_backbones()
    assert "resnet18" in fgav.list_backbones(), "the built-ins always load"
    monkeypatch.setenv("FGAV_PLUGINS", "good")
    registry.load_plugins(reload=True)
    assert "throwaway-cube" in fgav.list_backbones()


def test_list_patterns_and_create() -> None:
    assert fgav.list_backbones("res*") == ["resnet18"]
    assert fgav.list_heads("*map*") == []
    assert set(fgav.list_heads()) >= {"attribute", "spoof_type", "illumination", "depth", "reflection", "classification"}
    assert set(fgav.list_attacks()) >= {"fgsm", "pgd", "l2pgd", "cw", "ead", "deepfool", "spatial-grid"}
    assert fgav.create_attack("pgd", steps=3).steps == 3
    with pytest.raises(FgavError, match="attack 'pgd'.*unexpected keyword argument 'stepz'"):
        fgav.create_attack("pgd", stepz=3)
    with pytest.raises(FgavError, match="unknown attack 'fgms'. Did you mean 'fgsm'"):
        fgav.create_attack("fgms")
    with pytest.raises(FgavError, match="attack 'sparse': option k=-1 is out of range"):
        fgav.create_attack("sparse", k=-1)


def test_the_example_plugin_package_is_installed_and_discovered() -> None:
    """`make test` installs examples/fgav-example-plugin; fgav finds it by its entry point."""
    info = registry.components("backbone").get("example-tinycnn")
    assert info is not None, "pip install -e examples/fgav-example-plugin (make test does)"
    assert info.plugin == "example" and info.version == "0.1.0"
    model = fgav.build_model("example-tinycnn", ["example-brightness", "spoof_type"], image_size=32)
    x = torch.rand(3, 3, 32, 32)
    losses = model.losses(model(x), {"image": x, "spoof": torch.tensor([0, 1, 1]),
                                      "spoof_type": torch.tensor([0, 3, 8])})
    assert set(losses) == {"example-brightness", "spoof_type", "classification"}
