"""Planning: the narrow interface around PyVRP that turns orders and a fleet into a Plan."""
