"""Adapters at the edges: database, solver back-ends, travel times, carriers, channels, storage."""
