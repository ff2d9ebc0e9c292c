"""Video analytics: detectors, tracking, zones, lines, behaviours, privacy, camera workers."""
