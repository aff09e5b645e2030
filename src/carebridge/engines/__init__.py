"""Clinical and domain rules as pure functions over data: stdlib and pydantic only."""
