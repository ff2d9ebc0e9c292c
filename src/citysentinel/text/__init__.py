"""Crisis text intelligence: records, cleaning, PII masking, encoders and classifiers."""
