"""Video analytics: detectors, tracking, zones and lines, behaviours, privacy, the camera analyzer."""
