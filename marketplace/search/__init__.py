"""Full-text search over patents: jieba segmentation into a GIN-indexed tsvector."""
