"""The models stage: estimators and how they are chosen.

* `songpop.models.registry`: `MODELS`, one entry per model (name → unfitted pipeline, family,
  search space), songpop's models and the report's originals;
* `songpop.models.search`: successive-halving hyper-parameter search on training rows, budgets;
* `songpop.models.mlp`: the PyTorch MLP as a scikit-learn estimator;
* `songpop.models.cluster`: the k-means analysis.

Training a whole task (split, search, evaluate, save) is `songpop.train.train_task`. Nothing is
imported here, so importing one module does not pull in the others' libraries.
"""
