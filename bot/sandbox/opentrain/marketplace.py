"""The simulated marketplace's building blocks: accounts, tokens, jobs, proposals,
contracts, milestones, conversations and messages, each added with sensible defaults.

Seed scenarios and tests build worlds with them, and co-signed actions create the
contracts and milestones a confirmed hire makes. A layer over the books (`books.py`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.sandbox.opentrain.books import Books
from bot.sandbox.opentrain.ids import new_id
from bot.sandbox.opentrain.model import (
    Account,
    Contract,
    Conversation,
    Job,
    Message,
    Milestone,
    Person,
    Proposal,
    Token,
)
from bot.sandbox.opentrain.vocabulary import (
    ALL_SCOPES,
    FEATURES,
    ContractStatus,
    EventType,
    JobStatus,
    MilestoneStatus,
    PaymentType,
    ProposalStatus,
)


class Marketplace(Books):
    def add_account(
        self,
        *,
        account_id: str,
        owner: Person,
        claimed: bool = True,
        payment_method_on_file: bool = False,
    ) -> Account:
        account = Account(
            id=account_id,
            organization_id=f"org_{account_id.removeprefix('acct_')}",
            owner=owner,
            claimed=claimed,
            features=dict.fromkeys(FEATURES, True),
            payment_method_on_file=payment_method_on_file,
        )
        self.accounts[account.id] = account
        return account

    def add_token(
        self,
        account: Account,
        *,
        secret: str,
        label: str,
        scopes: tuple[str, ...],
        any_scopes: bool = False,
    ) -> Token:
        unknown = sorted(set(scopes) - set(ALL_SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)}")
        token = Token(new_id("tok"), secret, label, scopes, account.id, self.now(), any_scopes)
        self.tokens[secret] = token
        return token

    def add_job(
        self,
        account: Account,
        *,
        job_id: str,
        title: str,
        payment_type: PaymentType,
        status: JobStatus = JobStatus.OPEN,
        age: timedelta = timedelta(0),
    ) -> Job:
        created = self.now() - age
        job = Job(job_id, account.id, title, payment_type, created, created, status)
        self.jobs[job.id] = job
        return job

    def add_proposal(
        self,
        job: Job,
        freelancer: Person,
        *,
        proposal_id: str | None = None,
        status: ProposalStatus = ProposalStatus.UNREVIEWED,
        bid_amount_usd: Decimal = Decimal(500),
        age: timedelta = timedelta(0),
        emit: bool = False,
        **extra: Any,
    ) -> Proposal:
        created = self.now() - age
        # unconfirmed: `bid.unit` values (the docs show "PER_LABEL" and "per_hour").
        bid_unit = "PER_HOUR" if job.payment_type is PaymentType.PAY_PER_HOUR else "FIXED"
        proposal = Proposal(
            id=proposal_id or new_id("prop"),
            job_id=job.id,
            freelancer=freelancer,
            status=status,
            created_at=created,
            updated_at=created,
            bid_amount_usd=bid_amount_usd,
            bid_unit=bid_unit,
            **extra,
        )
        self.proposals[proposal.id] = proposal
        if emit:
            self.emit(
                job.account_id,
                EventType.PROPOSAL_RECEIVED,
                proposal.id,
                job.id,
                {"proposalId": proposal.id, "jobId": job.id},
            )
        return proposal

    def add_contract(
        self,
        proposal: Proposal,
        *,
        contract_id: str | None = None,
        rate_usd: Decimal | None,
        age: timedelta = timedelta(0),
        conversation_id: str | None = None,
    ) -> Contract:
        job = self.job_of(proposal)
        created = self.now() - age
        contract = Contract(
            id=contract_id or new_id("ctr"),
            account_id=job.account_id,
            job_id=job.id,
            proposal_id=proposal.id,
            title=f"{job.title} — {proposal.freelancer.display_name}",
            status=ContractStatus.ACTIVE,
            payment_type=job.payment_type,
            rate_usd=rate_usd,
            freelancer=proposal.freelancer,
            conversation_id=conversation_id or new_id("conv"),
            created_at=created,
            updated_at=created,
            start_date=created,
        )
        self.contracts[contract.id] = contract
        proposal.status = ProposalStatus.HIRED
        proposal.contract_id = contract.id
        proposal.updated_at = created
        self.add_conversation(
            job,
            contract.conversation_id,
            bucket="job",
            proposal_id=proposal.id,
            other=proposal.freelancer,
            updated_at=created,
        )
        return contract

    def add_milestone(
        self,
        contract: Contract,
        *,
        milestone_id: str | None = None,
        name: str,
        description: str,
        amount_usd: Decimal,
        status: MilestoneStatus = MilestoneStatus.NOT_FUNDED,
        volume: Decimal | None = None,
        due_date: datetime | None = None,
        age: timedelta = timedelta(0),
    ) -> Milestone:
        milestone = Milestone(
            id=milestone_id or new_id("ms"),
            contract_id=contract.id,
            number=len(contract.milestone_ids) + 1,
            name=name,
            description=description,
            status=status,
            amount_usd=amount_usd,
            created_at=self.now() - age,
            volume=volume,
            due_date=due_date,
        )
        self.milestones[milestone.id] = milestone
        contract.milestone_ids.append(milestone.id)
        return milestone

    def add_conversation(
        self,
        job: Job,
        conversation_id: str,
        *,
        bucket: str,
        proposal_id: str | None,
        other: Person,
        updated_at: datetime,
    ) -> Conversation:
        owner = self.accounts[job.account_id].owner
        conversation = Conversation(
            id=conversation_id,
            account_id=job.account_id,
            bucket=bucket,
            job_id=job.id,
            proposal_id=proposal_id,
            channel_name=f"{job.title} · {other.display_name}",
            participant_ids=(owner.id, other.id),
            updated_at=updated_at,
        )
        self.conversations[conversation.id] = conversation
        return conversation

    def add_message(
        self,
        conversation: Conversation,
        sender_id: str,
        content: str,
        *,
        age: timedelta = timedelta(0),
    ) -> Message:
        created = self.now() - age
        message = Message(new_id("msg"), conversation.id, sender_id, content, created, {sender_id})
        conversation.messages.append(message)
        conversation.updated_at = max(conversation.updated_at, created)
        return message
