"""A re-enactment of the original report's pipeline, as its notebooks ran it (issue #25).

Written from `../shared/seed/NOTES.md` alone and never importing songpop, so that `bench_run`
can time it beside `songpop run --tasks seed` in the same sitting: the ratio of the two holds on
any machine. The steps, as the original code did them:

1. the 13,659 Spotify rows of its merge (`tracks/spotify_1921-2020_seed_matched.csv.gz`), one row
   per title (highest popularity): 9,516 songs, levels `qcut(popularity, 3)`, ordered by title
   and then by popularity (the order its split saw, see `songpop.reproduce`);
2. 10 numeric features + `key` one-hot (12) = 22 inputs;
3. `train_test_split(test_size=0.25, random_state=50)`: KNN (k=2) and SVC (poly, C=2), each on
   MinMax-scaled inputs with SMOTE on the training rows; a random forest by `GridSearchCV`
   (3 folds) over n_estimators {50, 250, 1000} x max_depth {10, 50, 200} x min_samples_leaf
   {3, 7, 10} x max_features {auto, sqrt} on standardised inputs ("auto" meant "sqrt" for a
   classifier and no longer exists: the grid keeps its 54 settings, 162 fits, both as "sqrt");
4. k-means (k = 3) on standardised inputs, PCA to 2-D, silhouette;
5. `train_test_split(test_size=0.2, random_state=42)`: the MLP 22-128-64-32-3 (BatchNorm, ReLU,
   dropout 0.45 per hidden layer), AdamW lr 1e-4, cross-entropy, 5,000 full-batch epochs, the
   test loss computed every epoch (the original watched the test set while tuning).

The grid search and the forest use both cores (`n_jobs=-1`), as songpop does; torch its default
threads. Run: `python -m benchmarks.original_pipeline DATA_DIR [--epochs N]`; it prints a JSON
line with each step's seconds and test accuracy (the report's: KNN 0.43, SVC 0.50, forest 0.51,
MLP 0.535), so a re-enactment that drifted from the original shows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TRACKS = "tracks/spotify_1921-2020_seed_matched.csv.gz"
NUMERIC = [
    "acousticness",
    "danceability",
    "duration_ms",
    "energy",
    "instrumentalness",
    "liveness",
    "loudness",
    "speechiness",
    "tempo",
    "valence",
]
RF_GRID: dict[str, list[Any]] = {
    "n_estimators": [50, 250, 1000],
    "max_depth": [10, 50, 200],
    "min_samples_leaf": [3, 7, 10],
    "max_features": ["sqrt", "sqrt"],  # the original's {"auto", "sqrt"}: both meant "sqrt"
}
EPOCHS = 5000


def songs(data_dir: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """The 22 inputs and the 0 / 1 / 2 levels of the original's 9,516 songs, in split order."""
    tracks = pd.read_csv(data_dir / TRACKS)
    best = tracks.groupby("name", sort=True)["popularity"].idxmax()
    table = tracks.loc[best.to_numpy()].reset_index(drop=True)
    table = table.sort_values("popularity", kind="stable").reset_index(drop=True)
    level = pd.qcut(table["popularity"], 3, labels=False, duplicates="drop").to_numpy()
    key = pd.get_dummies(table["key"].astype(int), prefix="key").reindex(
        columns=[f"key_{k}" for k in range(12)], fill_value=0
    )
    X = pd.concat([table[NUMERIC].astype(float), key.astype(float)], axis=1)
    return X, level


def _smote_fit(model: Any, X_train: np.ndarray, y_train: np.ndarray, seed: int) -> Any:
    from imblearn.over_sampling import SMOTE

    X_res, y_res = SMOTE(random_state=seed).fit_resample(X_train, y_train)
    return model.fit(X_res, y_res)


def classic(X: pd.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """KNN, SVC and the forest grid on the 75/25 split (random_state=50)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    from sklearn.svm import SVC

    X_train, X_test, y_train, y_test = train_test_split(
        X.to_numpy(), y, test_size=0.25, random_state=50
    )
    out: dict[str, Any] = {"n_train": len(y_train), "n_test": len(y_test)}
    scaler = MinMaxScaler().fit(X_train)
    for name, model in (
        ("knn", KNeighborsClassifier(n_neighbors=2)),
        ("svc", SVC(kernel="poly", C=2)),
    ):
        t0 = time.perf_counter()
        fitted = _smote_fit(model, scaler.transform(X_train), y_train, seed=50)
        accuracy = float(np.mean(fitted.predict(scaler.transform(X_test)) == y_test))
        out[name] = {"seconds": round(time.perf_counter() - t0, 2), "accuracy": accuracy}
    t0 = time.perf_counter()
    standard = StandardScaler().fit(X_train)
    grid = GridSearchCV(RandomForestClassifier(), RF_GRID, cv=3, n_jobs=-1)
    grid.fit(standard.transform(X_train), y_train)
    accuracy = float(np.mean(grid.predict(standard.transform(X_test)) == y_test))
    out["rf_grid"] = {
        "seconds": round(time.perf_counter() - t0, 2),
        "accuracy": accuracy,
        "fits": 3 * len(grid.cv_results_["params"]) + 1,
        "best": {k: v for k, v in grid.best_params_.items() if k != "max_features"},
    }
    return out


def kmeans(X: pd.DataFrame) -> dict[str, Any]:
    """k-means with k = 3 on standardised inputs, PCA to 2-D for the plot, silhouette."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    t0 = time.perf_counter()
    Z = StandardScaler().fit_transform(X.to_numpy())
    labels = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(Z)
    PCA(n_components=2).fit_transform(Z)
    score = float(silhouette_score(Z, labels))
    return {"seconds": round(time.perf_counter() - t0, 2), "silhouette": score}


def mlp(X: pd.DataFrame, y: np.ndarray, epochs: int = EPOCHS) -> dict[str, Any]:
    """The 22-128-64-32-3 network, full batch, AdamW lr 1e-4, `epochs` epochs (80/20 split)."""
    import torch
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    t0 = time.perf_counter()
    torch.manual_seed(42)
    X_train, X_test, y_train, y_test = train_test_split(
        X.to_numpy(), y, test_size=0.2, random_state=42
    )
    scaler = StandardScaler().fit(X_train)
    xt = torch.tensor(scaler.transform(X_train), dtype=torch.float32)
    xv = torch.tensor(scaler.transform(X_test), dtype=torch.float32)
    yt = torch.tensor(y_train, dtype=torch.long)
    yv = torch.tensor(y_test, dtype=torch.long)
    layers: list[torch.nn.Module] = []
    width = xt.shape[1]
    for hidden in (128, 64, 32):
        layers += [
            torch.nn.Linear(width, hidden),
            torch.nn.BatchNorm1d(hidden),
            torch.nn.ReLU(),
            torch.nn.Dropout(0.45),
        ]
        width = hidden
    net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 3))
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    test_loss = float("nan")
    for _ in range(epochs):
        net.train()
        optimiser.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        optimiser.step()
        net.eval()
        with torch.no_grad():
            test_loss = float(loss_fn(net(xv), yv))
    with torch.no_grad():
        accuracy = float((net(xv).argmax(dim=1) == yv).float().mean())
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "accuracy": accuracy,
        "epochs": epochs,
        "test_loss": test_loss,
    }


def main(data_dir: Path, epochs: int = EPOCHS) -> dict[str, Any]:
    """Every step of the original pipeline; seconds and accuracies per step."""
    t0 = time.perf_counter()
    X, y = songs(data_dir)
    out: dict[str, Any] = {"n_songs": len(y), "load_seconds": round(time.perf_counter() - t0, 2)}
    out.update(classic(X, y))
    out["kmeans"] = kmeans(X)
    out["mlp"] = mlp(X, y, epochs)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()
    print(json.dumps(main(args.data_dir, args.epochs)), file=sys.stdout)
