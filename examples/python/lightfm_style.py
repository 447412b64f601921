"""A LightFM project switched to netrex by its import line: the same matrices, the same
calls, LightFM's own evaluation functions.

    pip install ./crates/netrex-py scipy lightfm   # lightfm only for its evaluation module
    NETREX_DATA_DIR=../shared/data python examples/python/lightfm_style.py
"""

import numpy as np
import scipy.sparse as sp

import netrex
from netrex.compat import LightFM  # was: from lightfm import LightFM

try:
    from lightfm.evaluation import auc_score, precision_at_k
except ImportError:  # the same metrics through netrex when LightFM is not installed
    precision_at_k = auc_score = None

train_data, test_data = netrex.movielens_100k("ua")
shape = (train_data.num_users, train_data.num_items)


def matrix(data):
    ones = np.ones(len(data), dtype=np.float32)
    return sp.coo_matrix((ones, (data.users, data.items)), shape=shape).tocsr()


train, test = matrix(train_data), matrix(test_data)
model = LightFM(loss="warp", no_components=128, random_state=0)
model.fit(train, epochs=10, num_threads=2)

if precision_at_k is not None:
    print("precision@10", precision_at_k(model, test, train_interactions=train, k=10).mean())
    print("AUC", auc_score(model, test, train_interactions=train).mean())
print(netrex.evaluate(model.model, test_data, train=train_data))
biases, embeddings = model.get_item_representations()
print("item embeddings", embeddings.shape)
