import netrex

train, test = netrex.movielens_100k("ua")  # from $NETREX_DATA_DIR/ml-100k
model = netrex.FactorizationModel(loss="warp", dim=128, epochs=10, seed=0)
model.fit(train)
print(netrex.evaluate(model, test, train=train))  # {'mrr': 0.118..., 'auc': 0.94..., ...}
ids, scores = model.recommend([0, 1, 2], k=5)  # dense ids, seen items left out
print(model.recommend(["196"], k=5, raw=True)[0])  # MovieLens' own ids
model.save("netrex-warp")  # `netrex evaluate --model netrex-warp` reads it
print(netrex.load("netrex-warp"))
