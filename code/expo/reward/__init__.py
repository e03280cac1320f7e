"""Reward scoring: raw logits of a one-label sequence-classification reward model over chat-formatted pairs."""
