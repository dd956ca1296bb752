"""The main job: a real delivery day, enriched synthetically, planned and run on a simulated clock."""
