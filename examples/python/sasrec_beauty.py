"""SASRec on Amazon Beauty through Python, as `netrex fit --dataset amazon-beauty --model
sasrec` runs it: leave-one-out, early stopping on validation NDCG@10, every item ranked at test.

    NETREX_DATA_DIR=../shared/data python examples/python/sasrec_beauty.py [--max-epochs 200]
"""

import argparse
import os
from pathlib import Path

import netrex

parser = argparse.ArgumentParser()
parser.add_argument("--max-epochs", type=int, default=200)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

path = Path(os.environ.get("NETREX_DATA_DIR", "../shared/data")) / "amazon-s3rec" / "Beauty.txt"
data = netrex.read_sequences(path)
train, valid, test = netrex.leave_one_out(data)
print(f"{data.num_users} users, {data.num_items} items, {len(data)} interactions")

model = netrex.SequenceModel("sasrec", max_epochs=args.max_epochs, seed=args.seed)
model.fit(train, validation=valid, progress=True)
print("best epoch", model.best_epoch)
print(netrex.evaluate(model, test, train=train.concat(valid)))

# the next items after a history of raw item ids, as a server would ask
print(model.recommend([["1", "2", "3"]], k=5, raw=True))
