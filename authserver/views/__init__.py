"""HTTP views: each a few lines over the domain modules."""
