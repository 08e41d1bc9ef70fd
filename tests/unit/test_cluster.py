"""k-means analysis: picks the right k on blobs, describes clusters in feature units, writes a
section the report can render."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from songpop.errors import SchemaError
from songpop.models.cluster import REPORT_K, kmeans_analysis
from songpop.report.sections import write_cluster_section

FEATURES = ["energy", "tempo", "valence"]


def _blobs(k: int, per: int = 80, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """`k` tight, well-separated blobs in three audio columns of very different scales."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.1, 80.0, 0.2], [0.9, 170.0, 0.8], [0.5, 125.0, 0.1], [0.2, 160.0, 0.9]])
    truth = np.repeat(np.arange(k), per)
    scale = np.array([0.02, 3.0, 0.02])
    X = pd.DataFrame(centres[truth] + rng.normal(0, 1, (len(truth), 3)) * scale, columns=FEATURES)
    levels = pd.Series(np.array(["low", "medium", "high"])[rng.integers(0, 3, len(truth))])
    return X, levels, truth


@pytest.mark.parametrize("k", [2, 4])
def test_silhouette_picks_the_number_of_blobs(k):
    X, levels, truth = _blobs(k)
    result = kmeans_analysis(X, levels, k_range=range(2, 7), seed=0)
    assert result.best_k == k
    assert list(result.silhouette["k"]) == [2, 3, 4, 5, 6]
    assert result.silhouette["silhouette"].max() > 0.7
    assert set(result.fits) == {k, REPORT_K}  # the report's k is always fitted
    labels = result.best.labels
    # each blob is exactly one cluster
    assert pd.crosstab(labels, truth).gt(0).sum(axis=1).eq(1).all()


def test_centres_are_in_feature_units_and_crosstab_counts_every_song():
    X, levels, truth = _blobs(4)
    result = kmeans_analysis(X, levels, k_range=range(2, 6), seed=0)
    fit = result.best
    tempo = sorted(fit.centres["tempo"].round(0))
    assert tempo == pytest.approx([80, 125, 160, 170], abs=2)  # BPM, not z-scores
    assert fit.centres["songs"].sum() == len(X)
    assert fit.crosstab.loc["total", "total"] == len(X)
    assert list(fit.crosstab.columns) == ["low", "medium", "high", "total"]
    assert fit.crosstab.drop(index="total")["total"].tolist() == fit.centres["songs"].tolist()
    # levels were drawn at random: no relation to the clusters
    assert abs(fit.adjusted_rand) < 0.05


def test_pca_coordinates_and_explained_variance():
    X, levels, _ = _blobs(3)
    result = kmeans_analysis(X, levels, k_range=[2, 3], seed=0)
    assert result.pca.shape == (len(X), 2)
    ev1, ev2 = result.explained_variance
    assert 0 < ev2 <= ev1 and ev1 + ev2 <= 1.0 + 1e-9


def test_same_seed_same_result():
    X, levels, _ = _blobs(3)
    a = kmeans_analysis(X, levels, k_range=[2, 3, 4], seed=5, silhouette_sample=100)
    b = kmeans_analysis(X, levels, k_range=[2, 3, 4], seed=5, silhouette_sample=100)
    pd.testing.assert_frame_equal(a.silhouette, b.silhouette)
    np.testing.assert_array_equal(a.best.labels, b.best.labels)
    assert a.silhouette_sample == 100


def test_default_features_are_the_numeric_audio_columns_without_key():
    X, levels, _ = _blobs(2)
    X["key"] = 3
    X["title"] = "x"
    result = kmeans_analysis(X, levels, k_range=[2], seed=0)
    assert result.features == FEATURES


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda X: X.assign(tempo=X["tempo"].where(X.index != 7)), "'tempo' has 1 missing"),
        (lambda X: X.assign(energy="loud"), "'energy' must be numeric"),
        (lambda X: X.drop(columns=FEATURES), "none of the audio feature columns"),
    ],
)
def test_bad_input_raises_a_schema_error_naming_the_column(mutate, message):
    X, levels, _ = _blobs(2)
    with pytest.raises(SchemaError, match=message):
        kmeans_analysis(mutate(X), levels, k_range=[2])


def test_levels_must_match_rows():
    X, levels, _ = _blobs(2)
    with pytest.raises(SchemaError, match="levels has"):
        kmeans_analysis(X, levels[:-1], k_range=[2])
    with pytest.raises(SchemaError, match="first at row 4"):
        kmeans_analysis(X, levels.where(levels.index != 4), k_range=[2])


def test_write_cluster_section_writes_every_file_the_manifest_names(tmp_path):
    X, levels, _ = _blobs(4, per=40)
    result = kmeans_analysis(X, levels, k_range=range(2, 6), seed=0)
    manifest_path = write_cluster_section(result, tmp_path / "cluster", order=35)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["order"] == 35
    assert manifest["title"]
    assert len(manifest["paragraphs"]) >= 3
    assert "k = 4" in manifest["paragraphs"][0]
    for table in manifest["tables"]:
        frame = pd.read_csv(manifest_path.parent / table["csv"])
        assert len(frame) > 0
    for figure in manifest["figures"]:
        png = manifest_path.parent / figure["png"]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in (manifest_path.parent / figure["svg"]).read_text()
    # the PCA figure of both the best k and the report's k
    names = {f["png"] for f in manifest["figures"]}
    assert {"figures/cluster_pca_k4.png", "figures/cluster_pca_k3.png"} <= names
    centres = pd.read_csv(tmp_path / "cluster" / "cluster_centres_k4.csv")
    assert list(centres.columns) == ["cluster", "songs", *FEATURES]
