"""Sigma (SigmaHQ YAML) rules for CloudTrail: parsing into :class:`pipeline.detections.model.Rule`."""

from pipeline.detections.sigma.parser import parse_rule, parse_sigma_text

__all__ = ["parse_rule", "parse_sigma_text"]
