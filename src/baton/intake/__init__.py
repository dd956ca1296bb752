"""Order intake: import and validate orders, vehicles and drivers from files and benchmark formats."""
