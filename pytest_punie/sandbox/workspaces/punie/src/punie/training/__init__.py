"""Fine-tuning Punie's model with LoRA."""
